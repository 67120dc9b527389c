//! Profiles and feature modules: their TOML schema (unknown keys are errors), inheritance,
//! module dependency order, and the typed, validated [`Profile`] the resolver works from.
//! Nothing here reads the sysroot.

use crate::error::{BuildError, Result};
use crate::library::{Library, Origin, TextFile};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The init stages, in the order `/init` runs them.
pub const STAGES: &[&str] = &[
    "cmdline",
    "modules",
    "network",
    "identity",
    "cluster",
    "mount-root",
    "cdsl",
    "pre-pivot",
    "switch",
];

/// `profiles/<name>.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    description: Option<String>,
    inherits: Option<String>,
    #[serde(default)]
    modules: Vec<String>,
    #[serde(default)]
    binaries: Vec<String>,
    #[serde(default)]
    optional_binaries: Vec<String>,
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    kernel_modules: Vec<String>,
    #[serde(default)]
    kernel_args: Vec<String>,
    /// `fencing = false`: dlm runs without fencing, by the profile's explicit choice (every
    /// node warns on its console). A profile inheriting it may say `fencing = true`.
    fencing: Option<bool>,
}

/// `modules/<name>/module.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleFile {
    description: Option<String>,
    #[serde(default)]
    depends: Vec<String>,
    #[serde(default)]
    binaries: Vec<String>,
    #[serde(default)]
    optional_binaries: Vec<String>,
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    optional_files: Vec<String>,
    #[serde(default)]
    dirs: Vec<String>,
    #[serde(default)]
    symlinks: BTreeMap<String, String>,
    #[serde(default)]
    kernel_modules: Vec<String>,
    #[serde(default)]
    optional_kernel_modules: Vec<String>,
    #[serde(default)]
    plugin_dirs: Vec<String>,
    /// `STAGE = { template = "FILE", priority = NN }` ([`hook_spec`]).
    #[serde(default)]
    hooks: BTreeMap<String, toml::Value>,
    /// The module renders the cluster's members (a build without `--cluster` is an error).
    #[serde(default)]
    needs_cluster: bool,
    /// The module runs corosync: the cluster's crypto authkey goes into the image.
    #[serde(default)]
    corosync_authkey: bool,
    /// The module logs in to or serves iSCSI targets: the description's CHAP secret
    /// (`[iscsi]`) goes into the image.
    #[serde(default)]
    iscsi_chap: bool,
    /// The module runs dlm_controld: while fencing is on, every member needs a fence device.
    #[serde(default)]
    dlm: bool,
    /// `"/IMAGE/PATH" = "FILE"`: a file of the module's directory installed as a program
    /// (mode 0755), such as a fence agent.
    #[serde(default)]
    scripts: BTreeMap<String, String>,
}

/// A program shipped in a module's directory (`[scripts]`), with its image path.
#[derive(Debug, Clone)]
pub struct Script {
    /// The image path, without a leading `/`.
    pub path: String,
    pub file: TextFile,
    pub by: String,
}

/// One thing to put in the image, with who asked for it (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub by: String,
    pub optional: bool,
}

/// A hook script template for one stage.
#[derive(Debug, Clone)]
pub struct Hook {
    pub stage: String,
    /// 0-99: the stage's hooks run in this order, then by module name ([`HOOK_PRIORITIES`]).
    pub priority: u8,
    pub module: String,
    pub template: TextFile,
}

/// The ranges of hook priorities and what each is for, as `ARCHITECTURE.md` lists them.
pub const HOOK_PRIORITIES: &str = "00-09 reserved, 10-29 checking arguments, \
     30-69 the stage's work (50 when unsure), 70-89 using what it made, 90-99 last (changes \
     to the result, such as copying the root into RAM)";

/// A `[hooks]` entry of module file `file`: `STAGE = { template = "FILE", priority = NN }`
/// with NN from 0 to 99. Returns the template's file name and the priority.
fn hook_spec(file: &str, stage: &str, value: &toml::Value) -> Result<(String, u8)> {
    let err = |message: String| BuildError::Config {
        location: file.to_string(),
        message,
    };
    let form = format!(
        "write it as {stage} = {{ template = \"FILE\", priority = NN }}, NN from 0 to 99 \
         ({HOOK_PRIORITIES})"
    );
    let Some(table) = value.as_table() else {
        return Err(err(format!(
            "[hooks] {stage} = {value} has no priority: {form}"
        )));
    };
    if let Some(key) = table.keys().find(|k| *k != "template" && *k != "priority") {
        return Err(err(format!("[hooks] {stage}: unknown key '{key}'; {form}")));
    }
    let template = table
        .get("template")
        .and_then(|t| t.as_str())
        .ok_or_else(|| err(format!("[hooks] {stage}: no template file name; {form}")))?;
    let priority = match table.get("priority") {
        Some(toml::Value::Integer(n)) => u8::try_from(*n).ok().filter(|n| *n <= 99),
        _ => None,
    };
    let priority = priority.ok_or_else(|| {
        let got = table
            .get("priority")
            .map_or_else(|| "missing".to_string(), |v| v.to_string());
        err(format!(
            "[hooks] {stage}: priority {got} is not a number from 0 to 99; {form}"
        ))
    })?;
    Ok((template.to_string(), priority))
}

/// A fully resolved profile: inheritance applied, modules in dependency order.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub source: String,
    /// Display names of the profile files read (the inheritance chain, most basic first).
    /// An [`Item`] whose `by` is one of them was listed by a profile, not by a module.
    pub profile_files: Vec<String>,
    /// Feature modules, dependencies first.
    pub modules: Vec<String>,
    pub binaries: Vec<Item>,
    pub files: Vec<Item>,
    pub dirs: Vec<Item>,
    /// image path → symlink target
    pub symlinks: BTreeMap<String, (String, String)>,
    pub kernel_modules: Vec<Item>,
    pub plugin_dirs: Vec<Item>,
    pub hooks: Vec<Hook>,
    pub kernel_args: Vec<String>,
    /// Modules that need a cluster description (`needs_cluster = true`).
    pub needs_cluster: Vec<String>,
    /// A module runs corosync (`corosync_authkey = true`): the authkey goes in.
    pub corosync_authkey: bool,
    /// A module logs in to or serves iSCSI targets (`iscsi_chap = true`): the CHAP secret
    /// of the description's `[iscsi]` goes in.
    pub iscsi_chap: bool,
    /// Modules that run dlm_controld (`dlm = true`).
    pub dlm: Vec<String>,
    /// The profile file that turned fencing off (`fencing = false`), if one did and no
    /// later one turned it on again.
    pub fencing_off_by: Option<String>,
    /// Programs from the modules' directories (`[scripts]`).
    pub scripts: Vec<Script>,
}

use srbuild_cluster::description::line_col;

fn parse<T: for<'de> Deserialize<'de>>(file: &TextFile) -> Result<T> {
    toml::from_str(&file.text).map_err(|e| {
        let location = match e.span() {
            Some(span) => {
                let (l, c) = line_col(&file.text, span.start);
                format!("{}:{l}:{c}", file.name)
            }
            None => file.name.clone(),
        };
        BuildError::Config {
            location,
            message: e.message().trim().to_string(),
        }
    })
}

/// Finds the line of `needle` in a file, for errors about a value rather than the syntax.
fn locate(file: &TextFile, needle: &str) -> String {
    let quoted = format!("\"{needle}\"");
    match file.text.find(&quoted) {
        Some(off) => {
            let (l, c) = line_col(&file.text, off);
            format!("{}:{l}:{c}", file.name)
        }
        None => file.name.clone(),
    }
}

fn items<'a>(names: &'a [String], by: &str, optional: bool) -> impl Iterator<Item = Item> + 'a {
    let by = by.to_string();
    names.iter().map(move |n| Item {
        name: n.clone(),
        by: by.clone(),
        optional,
    })
}

/// Loads a profile by name or path and resolves inheritance and modules.
pub fn load_profile(library: &mut Library, name_or_path: &str) -> Result<Profile> {
    let (name, file) = library.profile(name_or_path)?;
    resolve_profile(library, name, file)
}

/// Parses the profile `name` from `text` and resolves inheritance and modules, as
/// [`load_profile`] does with a file. `display_name` names the text in errors (e.g.
/// `my/profiles/p.toml:3:1`). `inherits` and `modules` are looked up in `library`; with
/// [`Library::default()`] that is the built-in copies only, so no file is read.
pub fn profile_from_str(
    library: &Library,
    name: &str,
    display_name: &str,
    text: &str,
) -> Result<Profile> {
    let file = TextFile {
        name: display_name.to_string(),
        text: text.to_string(),
        // A profile has no sibling files; only its modules' hooks are looked up.
        origin: Origin::Builtin("profiles".into()),
    };
    resolve_profile(library, name.to_string(), file)
}

/// Parses one feature module's `module.toml` from `text` and resolves it as a profile that
/// holds only that module, after its `depends` (looked up in `library`). Schema, stage and
/// symlink errors are those of a real build. `display_name` names the text in errors; hook
/// templates are looked up beside the built-in module called `name`, so no file is read
/// when `library` is [`Library::default()`].
pub fn module_from_str(
    library: &Library,
    name: &str,
    display_name: &str,
    text: &str,
) -> Result<Profile> {
    let file = TextFile {
        name: display_name.to_string(),
        text: text.to_string(),
        origin: Origin::Builtin(format!("modules/{name}")),
    };
    let parsed: ModuleFile = parse(&file)?;
    let mut order: Vec<(String, TextFile, ModuleFile)> = Vec::new();
    let mut stack = vec![name.to_string()];
    let by = format!("module {name} ({display_name})");
    for dep in &parsed.depends {
        visit(library, dep, &by, &file, &mut stack, &mut order)?;
    }
    if !order.iter().any(|(n, _, _)| n == name) {
        order.push((name.to_string(), file, parsed));
    }
    let mut profile = Profile {
        name: name.to_string(),
        source: display_name.to_string(),
        ..Profile::default()
    };
    apply_modules(&mut profile, order)?;
    Ok(profile)
}

/// Inheritance and modules of the profile `name` read from `file`.
fn resolve_profile(library: &Library, name: String, file: TextFile) -> Result<Profile> {
    // Inheritance chain, most basic first.
    let mut chain: Vec<(TextFile, ProfileFile)> = Vec::new();
    let mut seen = vec![name.clone()];
    let mut current = file;
    loop {
        let parsed: ProfileFile = parse(&current)?;
        let parent = parsed.inherits.clone();
        chain.push((current.clone(), parsed));
        match parent {
            None => break,
            Some(p) => {
                if seen.contains(&p) {
                    seen.push(p);
                    return Err(BuildError::DependencyCycle(format!(
                        "profile inheritance {}",
                        seen.join(" -> ")
                    )));
                }
                seen.push(p.clone());
                current = library.profile_named(&p).map_err(|e| match e {
                    BuildError::UnknownProfile { known, .. } => BuildError::Config {
                        location: locate(&current, &p),
                        message: format!("inherits unknown profile '{p}'; known profiles: {known}"),
                    },
                    other => other,
                })?;
            }
        }
    }
    chain.reverse();

    let mut profile = Profile {
        name,
        source: chain
            .last()
            .map(|(f, _)| f.name.clone())
            .unwrap_or_default(),
        profile_files: chain.iter().map(|(f, _)| f.name.clone()).collect(),
        ..Profile::default()
    };
    let mut requested: Vec<(String, String, TextFile)> = Vec::new();
    for (file, p) in &chain {
        if let Some(d) = &p.description {
            profile.description = d.clone();
        }
        for m in &p.modules {
            requested.push((m.clone(), file.name.clone(), file.clone()));
        }
        profile
            .binaries
            .extend(items(&p.binaries, &file.name, false));
        profile
            .binaries
            .extend(items(&p.optional_binaries, &file.name, true));
        profile.files.extend(items(&p.files, &file.name, false));
        profile
            .kernel_modules
            .extend(items(&p.kernel_modules, &file.name, false));
        profile.kernel_args.extend(p.kernel_args.iter().cloned());
        match p.fencing {
            Some(false) => profile.fencing_off_by = Some(file.name.clone()),
            Some(true) => profile.fencing_off_by = None,
            None => {}
        }
    }

    // Modules: depth-first, dependencies first, cycles reported with their path.
    let mut order: Vec<(String, TextFile, ModuleFile)> = Vec::new();
    for (m, by, file) in requested {
        visit(library, &m, &by, &file, &mut Vec::new(), &mut order)?;
    }
    apply_modules(&mut profile, order)?;
    Ok(profile)
}

/// Adds the modules in `order` (dependencies first) to `profile`: their items, symlinks
/// (a second, different target for a path is a conflict), hooks (known stages only) and flags.
fn apply_modules(profile: &mut Profile, order: Vec<(String, TextFile, ModuleFile)>) -> Result<()> {
    for (mname, file, m) in order {
        let by = format!("module {mname} ({})", file.name);
        profile.binaries.extend(items(&m.binaries, &by, false));
        profile
            .binaries
            .extend(items(&m.optional_binaries, &by, true));
        profile.files.extend(items(&m.files, &by, false));
        profile.files.extend(items(&m.optional_files, &by, true));
        profile.dirs.extend(items(&m.dirs, &by, false));
        profile
            .kernel_modules
            .extend(items(&m.kernel_modules, &by, false));
        profile
            .kernel_modules
            .extend(items(&m.optional_kernel_modules, &by, true));
        profile
            .plugin_dirs
            .extend(items(&m.plugin_dirs, &by, false));
        for (path, target) in &m.symlinks {
            let key = path.trim_start_matches('/').to_string();
            if let Some((old, old_by)) = profile.symlinks.get(&key) {
                if old != target {
                    return Err(BuildError::Conflict {
                        path: key,
                        first: format!("symlink to {old} from {old_by}"),
                        second: format!("symlink to {target} from {by}"),
                    });
                }
            }
            profile.symlinks.insert(key, (target.clone(), by.clone()));
        }
        if m.needs_cluster {
            profile.needs_cluster.push(mname.clone());
        }
        profile.corosync_authkey |= m.corosync_authkey;
        profile.iscsi_chap |= m.iscsi_chap;
        if m.dlm {
            profile.dlm.push(mname.clone());
        }
        for (path, src) in &m.scripts {
            let at = path.trim_start_matches('/');
            if !path.starts_with('/')
                || at.is_empty()
                || at.split('/').any(|c| c.is_empty() || c == "." || c == "..")
            {
                return Err(BuildError::Config {
                    location: file.name.clone(),
                    message: format!(
                        "[scripts] {path:?}: write the program's absolute image path, such as \"/usr/sbin/NAME\""
                    ),
                });
            }
            profile.scripts.push(Script {
                path: at.to_string(),
                file: file.origin.sibling(src, &file.name)?,
                by: by.clone(),
            });
        }
        for (stage, spec) in &m.hooks {
            if !STAGES.contains(&stage.as_str()) {
                return Err(BuildError::Config {
                    location: file.name.clone(),
                    message: format!(
                        "unknown stage '{stage}' in [hooks]; stages are: {}",
                        STAGES.join(", ")
                    ),
                });
            }
            let (template, priority) = hook_spec(&file.name, stage, spec)?;
            let template = file.origin.sibling(&template, &file.name)?;
            profile.hooks.push(Hook {
                stage: stage.clone(),
                priority,
                module: mname.clone(),
                template,
            });
        }
        if profile.description.is_empty() {
            profile.description = m.description.clone().unwrap_or_default();
        }
        profile.modules.push(mname);
    }
    // The order hooks run in: by stage, then priority, then module name; never the order
    // modules were resolved in.
    let stage_index = |s: &str| STAGES.iter().position(|x| *x == s);
    profile.hooks.sort_by(|a, b| {
        (stage_index(&a.stage), a.priority, &a.module).cmp(&(
            stage_index(&b.stage),
            b.priority,
            &b.module,
        ))
    });
    Ok(())
}

fn visit(
    library: &Library,
    name: &str,
    by: &str,
    by_file: &TextFile,
    stack: &mut Vec<String>,
    order: &mut Vec<(String, TextFile, ModuleFile)>,
) -> Result<()> {
    if order.iter().any(|(n, _, _)| n == name) {
        return Ok(());
    }
    if stack.iter().any(|n| n == name) {
        stack.push(name.to_string());
        return Err(BuildError::DependencyCycle(format!(
            "modules {}",
            stack.join(" -> ")
        )));
    }
    let file = library
        .module(name)?
        .ok_or_else(|| BuildError::UnknownModule {
            name: name.to_string(),
            by: locate(by_file, name).replace(&by_file.name, by),
            known: library.module_names().join(", "),
        })?;
    let parsed: ModuleFile = parse(&file)?;
    stack.push(name.to_string());
    for dep in &parsed.depends {
        visit(
            library,
            dep,
            &format!("module {name} ({})", file.name),
            &file,
            stack,
            order,
        )?;
    }
    stack.pop();
    order.push((name.to_string(), file, parsed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn lib_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Library) {
        let dir = tempfile::tempdir().unwrap();
        for (p, t) in files {
            let path = dir.path().join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, t).unwrap();
        }
        let mut lib = Library::default();
        lib.prepend(dir.path().to_path_buf());
        (dir, lib)
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let (_d, mut lib) = lib_with(&[("profiles/p.toml", "modules = []\nbogus = 1\n")]);
        let err = load_profile(&mut lib, "p").unwrap_err().to_string();
        assert!(err.contains("p.toml:2:1"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn syntax_error_names_line() {
        let (_d, mut lib) = lib_with(&[("profiles/p.toml", "modules = [\"a\"\nx = \n")]);
        let err = load_profile(&mut lib, "p").unwrap_err().to_string();
        assert!(err.contains("p.toml:"), "{err}");
    }

    #[test]
    fn unknown_module_names_who_asked() {
        let (_d, mut lib) = lib_with(&[("profiles/p.toml", "modules = [\"nope\"]\n")]);
        let err = load_profile(&mut lib, "p").unwrap_err().to_string();
        assert!(err.contains("unknown module 'nope'"), "{err}");
        assert!(err.contains("p.toml:1:"), "{err}");
    }

    #[test]
    fn fencing_dlm_and_scripts_are_read_and_a_script_path_is_checked() {
        let (_d, mut lib) = lib_with(&[
            (
                "profiles/off.toml",
                "modules = [\"m-d\"]\nfencing = false\n",
            ),
            ("profiles/on.toml", "inherits = \"off\"\nfencing = true\n"),
            ("profiles/plain.toml", "inherits = \"off\"\n"),
            (
                "modules/m-d/module.toml",
                "dlm = true\n[scripts]\n\"/usr/sbin/agent\" = \"agent.sh\"\n",
            ),
            ("modules/m-d/agent.sh", "#!/bin/sh\nexit 0\n"),
            (
                "modules/m-bad/module.toml",
                "[scripts]\n\"usr/../etc/x\" = \"agent.sh\"\n",
            ),
            ("modules/m-bad/agent.sh", "#!/bin/sh\n"),
            ("profiles/bad.toml", "modules = [\"m-bad\"]\n"),
        ]);
        let p = load_profile(&mut lib, "off").unwrap();
        assert_eq!(p.dlm, vec!["m-d"]);
        assert!(p
            .fencing_off_by
            .as_deref()
            .is_some_and(|f| f.ends_with("off.toml")));
        assert_eq!(p.scripts.len(), 1);
        assert_eq!(p.scripts[0].path, "usr/sbin/agent");
        assert_eq!(p.scripts[0].file.text, "#!/bin/sh\nexit 0\n");
        assert_eq!(load_profile(&mut lib, "on").unwrap().fencing_off_by, None);
        assert!(load_profile(&mut lib, "plain")
            .unwrap()
            .fencing_off_by
            .is_some());
        let err = load_profile(&mut lib, "bad").unwrap_err().to_string();
        assert!(
            err.contains("[scripts]") && err.contains("absolute image path"),
            "{err}"
        );
    }

    #[test]
    fn dependency_cycle_is_reported_with_its_path() {
        let (_d, mut lib) = lib_with(&[
            ("profiles/p.toml", "modules = [\"cyc-a\"]\n"),
            ("modules/cyc-a/module.toml", "depends = [\"cyc-b\"]\n"),
            ("modules/cyc-b/module.toml", "depends = [\"cyc-a\"]\n"),
        ]);
        let err = load_profile(&mut lib, "p").unwrap_err().to_string();
        assert!(err.contains("cyc-a -> cyc-b -> cyc-a"), "{err}");
    }

    #[test]
    fn inheritance_and_dependency_order() {
        let (_d, mut lib) = lib_with(&[
            (
                "profiles/base0.toml",
                "modules = [\"m-a\"]\nkernel_args = [\"quiet\"]\n",
            ),
            (
                "profiles/child.toml",
                "inherits = \"base0\"\nmodules = [\"m-b\"]\nbinaries = [\"x\"]\n",
            ),
            ("modules/m-a/module.toml", "binaries = [\"a\"]\n"),
            ("modules/m-b/module.toml", "depends = [\"m-c\"]\n"),
            (
                "modules/m-c/module.toml",
                "optional_binaries = [\"c\"]\n[hooks]\nnetwork = { template = \"n.sh.hbs\", priority = 50 }\n",
            ),
            ("modules/m-c/n.sh.hbs", "echo hi\n"),
        ]);
        let p = load_profile(&mut lib, "child").unwrap();
        assert_eq!(p.modules, vec!["m-a", "m-c", "m-b"]);
        assert_eq!(p.kernel_args, vec!["quiet"]);
        let names: Vec<_> = p
            .binaries
            .iter()
            .map(|b| (b.name.as_str(), b.optional))
            .collect();
        assert_eq!(names, vec![("x", false), ("a", false), ("c", true)]);
        assert_eq!(p.hooks.len(), 1);
        assert_eq!(p.hooks[0].template.text, "echo hi\n");
    }

    #[test]
    fn unknown_stage_is_an_error() {
        let (_d, mut lib) = lib_with(&[
            ("profiles/p.toml", "modules = [\"m\"]\n"),
            (
                "modules/m/module.toml",
                "[hooks]\nbogus-stage = \"x.sh.hbs\"\n",
            ),
        ]);
        let err = load_profile(&mut lib, "p").unwrap_err().to_string();
        assert!(err.contains("unknown stage 'bogus-stage'"), "{err}");
    }

    #[test]
    fn hooks_run_by_priority_then_module_name_not_resolution_order() {
        let hook =
            |p: u32| format!("[hooks]\ncluster = {{ template = \"h.sh.hbs\", priority = {p} }}\n");
        let (_d, mut lib) = lib_with(&[
            ("profiles/p.toml", "modules = [\"z-first\", \"b\", \"a\"]\n"),
            ("modules/z-first/module.toml", &hook(10)),
            ("modules/z-first/h.sh.hbs", ""),
            ("modules/b/module.toml", &hook(50)),
            ("modules/b/h.sh.hbs", ""),
            ("modules/a/module.toml", &hook(50)),
            ("modules/a/h.sh.hbs", ""),
        ]);
        let p = load_profile(&mut lib, "p").unwrap();
        let order: Vec<_> = p
            .hooks
            .iter()
            .map(|h| (h.priority, h.module.as_str()))
            .collect();
        assert_eq!(order, [(10, "z-first"), (50, "a"), (50, "b")]);
    }

    #[test]
    fn a_hook_without_a_valid_priority_is_refused_naming_the_file_and_value() {
        let lib = Library::default();
        for (spec, want) in [
            ("\"x.sh.hbs\"", "\"x.sh.hbs\" has no priority"),
            ("{ template = \"x.sh.hbs\" }", "priority missing"),
            (
                "{ template = \"x.sh.hbs\", priority = 100 }",
                "priority 100 is not",
            ),
            (
                "{ template = \"x.sh.hbs\", priority = -1 }",
                "priority -1 is not",
            ),
            (
                "{ template = \"x.sh.hbs\", priority = \"90\" }",
                "priority \"90\" is not",
            ),
            (
                "{ template = \"x.sh.hbs\", priority = 5, order = 1 }",
                "unknown key 'order'",
            ),
            ("{ priority = 5 }", "no template"),
        ] {
            let text = format!("[hooks]\nnetwork = {spec}\n");
            let err = module_from_str(&lib, "m", "<text>/m/module.toml", &text)
                .unwrap_err()
                .to_string();
            assert!(err.contains("<text>/m/module.toml"), "{spec}: {err}");
            assert!(err.contains(want), "{spec}: {err}");
            assert!(err.contains("priority = NN"), "{spec}: {err}");
        }
    }

    #[test]
    fn profile_from_text_resolves_against_builtins() {
        let lib = Library::default();
        let p =
            profile_from_str(&lib, "mine", "<text>/mine.toml", "inherits = \"base\"\n").unwrap();
        assert_eq!(p.name, "mine");
        assert!(p.modules.contains(&"base".to_string()), "{:?}", p.modules);
        let err = profile_from_str(&lib, "mine", "<text>/mine.toml", "modules = [\"x\"\nbogus")
            .unwrap_err()
            .to_string();
        assert!(err.contains("<text>/mine.toml:"), "{err}");
        let err = profile_from_str(&lib, "mine", "t", "inherits = \"mine\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mine -> mine"), "{err}");
    }

    #[test]
    fn module_from_text_is_checked_like_a_build() {
        let lib = Library::default();
        let p =
            module_from_str(&lib, "m", "<text>/m/module.toml", "depends = [\"base\"]\n").unwrap();
        assert_eq!(p.modules.last().map(String::as_str), Some("m"));
        let err = module_from_str(&lib, "m", "t", "[hooks]\nnowhere = \"x.sh.hbs\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown stage 'nowhere'"), "{err}");
        let err = module_from_str(
            &lib,
            "m",
            "t",
            "[hooks]\nnetwork = { template = \"../x\", priority = 50 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("inside the module's directory"), "{err}");
        let err = module_from_str(&lib, "m", "t", "depends = [\"no/such\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown module 'no/such'"), "{err}");
    }

    #[test]
    fn unknown_profile_lists_known_ones() {
        let mut lib = Library::default();
        let err = load_profile(&mut lib, "definitely-not-a-profile")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown profile"), "{err}");
        assert!(err.contains("nfs"), "{err}");
    }
}
