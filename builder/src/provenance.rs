//! Provenance: why each planned path is in the image. Records the structured
//! [`Cause`] of the entries a request planned (the links and directories on the way, and
//! the file it landed on), walks the chain of causes back to the profile or module that
//! asked (`srbuild why`), and finds close matches for a path that is not planned.

use crate::config::Profile;
use crate::plan::{Cause, Plan, Source, Via};

/// What resolving a path through the plan's own entries met.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PlanWalk {
    /// Directories and directory links passed on the way.
    pub on_the_way: Vec<String>,
    /// Links met as the last component, in order (each points to the next).
    pub final_links: Vec<String>,
    /// The entry the path lands on (not a link), if it is planned.
    pub target: Option<String>,
}

/// Resolves `path` (absolute or relative to the image root) through the symlinks and
/// directories of `plan` only; nothing is read from disk.
pub fn walk_plan(plan: &Plan, path: &str) -> PlanWalk {
    let mut out = PlanWalk::default();
    let mut pending: Vec<String> = components(path);
    pending.reverse();
    let mut cur: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            cur.pop();
            continue;
        }
        let mut cand = cur.clone();
        cand.push(c);
        let cand_s = cand.join("/");
        let Some(entry) = plan.get(&cand_s) else {
            return out;
        };
        match &entry.source {
            Source::Symlink(t) => {
                hops += 1;
                if hops > 40 {
                    return out;
                }
                if pending.is_empty() {
                    out.final_links.push(cand_s);
                } else {
                    out.on_the_way.push(cand_s);
                }
                if t.starts_with('/') {
                    cur.clear();
                }
                let mut more = components(t);
                more.reverse();
                pending.extend(more);
            }
            Source::Dir if !pending.is_empty() => {
                out.on_the_way.push(cand_s);
                cur = cand;
            }
            _ if pending.is_empty() => {
                out.target = Some(cand_s);
                return out;
            }
            _ => return out,
        }
    }
    // A path that ends in a directory reached through a link (or the root itself).
    if !cur.is_empty() && out.target.is_none() {
        out.target = Some(cur.join("/"));
    }
    out
}

fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

/// Records the causes of what a request for `path` (made for `by`) planned: the first
/// link of the last component (or the file, without links) gets `first`, each later link
/// and the file are targets of the link before, and the directories and directory links on
/// the way are "on the way to" the first of those. Entries another request planned first
/// keep their own cause ([`Plan::set_cause`]).
pub fn record(plan: &mut Plan, path: &str, by: &str, first: Cause) {
    let walk = walk_plan(plan, path);
    let mut chain: Vec<String> = walk.final_links.clone();
    chain.extend(walk.target.clone());
    let Some(landed) = chain.first().cloned() else {
        return;
    };
    let mut cause = first;
    for p in &chain {
        plan.set_cause(p, by, cause);
        cause = Cause::Object {
            path: p.clone(),
            via: Via::Symlink,
        };
    }
    for d in &walk.on_the_way {
        plan.set_cause(
            d,
            by,
            Cause::Object {
                path: landed.clone(),
                via: Via::Directory,
            },
        );
    }
}

/// One step of a chain: a planned path and what brought it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub path: String,
    pub by: String,
    pub cause: Option<Cause>,
}

/// The chain of causes from `path` (a planned archive path) back to what asked for it;
/// empty when `path` is not planned. A cycle (which the builder never makes) ends it.
pub fn chain(plan: &Plan, path: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut at = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string();
    while let Some(e) = plan.get(&at) {
        if out.iter().any(|s| s.path == at) {
            break;
        }
        out.push(Step {
            path: at.clone(),
            by: e.by.clone(),
            cause: e.cause.clone(),
        });
        match &e.cause {
            Some(Cause::Object { path, .. }) => at = path.clone(),
            _ => break,
        }
    }
    out
}

/// `module nfs (<builtin>/modules/nfs/module.toml)` → `module nfs`; a profile file stays
/// as it is, named as a profile.
fn requester(by: &str, profile: &Profile) -> String {
    if profile.profile_files.iter().any(|f| f == by) {
        return format!("profile {by}");
    }
    match by.strip_prefix("module ") {
        Some(rest) => format!("module {}", rest.split(" (").next().unwrap_or(rest)),
        None => by.to_string(),
    }
}

/// The chain as one line: `a ← DT_NEEDED of b ← binaries of module nfs ← profile nfs`.
pub fn render(steps: &[Step], profile: &Profile) -> String {
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        if i == 0 {
            out.push_str(&s.path);
        }
        match &s.cause {
            Some(Cause::Object { path, via }) => {
                out.push_str(&format!(" ← {} {path}", via.words()));
            }
            Some(Cause::Listed { list, by }) => {
                let who = requester(by, profile);
                out.push_str(&format!(" ← {list} of {who}"));
                if who.starts_with("module ") {
                    out.push_str(&format!(" ← profile {}", profile.name));
                }
            }
            None => out.push_str(&format!(" ← {}", s.by)),
        }
    }
    out
}

/// Planned paths that look like `path`: the same file name elsewhere, else names that
/// start with the same stem (`libtirpc.so.9` → `libtirpc.so.3`); at most `max`.
pub fn close_matches(plan: &Plan, path: &str, max: usize) -> Vec<String> {
    let path = path.trim_start_matches('/').trim_end_matches('/');
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.is_empty() {
        return Vec::new();
    }
    let base = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let same: Vec<String> = plan
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| base(p) == name && p != path)
        .take(max)
        .collect();
    if !same.is_empty() {
        return same;
    }
    let stem = name.split('.').next().unwrap_or(name);
    if stem.len() < 3 {
        return Vec::new();
    }
    plan.iter()
        .map(|(p, _)| p.clone())
        .filter(|p| base(p).starts_with(stem))
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let mut p = Plan::default();
        let by = "/usr/sbin/prog";
        p.insert("lib", Source::Symlink("usr/lib".into()), 0o777, by)
            .unwrap();
        p.insert("usr", Source::Dir, 0o755, by).unwrap();
        p.insert("usr/lib", Source::Dir, 0o755, by).unwrap();
        p.insert(
            "usr/lib/libx.so.1",
            Source::Symlink("libx.so.1.2".into()),
            0o777,
            by,
        )
        .unwrap();
        p.insert_bytes("usr/lib/libx.so.1.2", vec![], 0o644, by)
            .unwrap();
        p
    }

    #[test]
    fn a_library_reached_through_links_gets_the_links_chain() {
        let mut p = plan();
        let by = "/usr/sbin/prog";
        let needed = Cause::Object {
            path: "usr/sbin/prog".into(),
            via: Via::Needed,
        };
        record(&mut p, "/lib/libx.so.1", by, needed.clone());
        assert_eq!(p.get("usr/lib/libx.so.1").unwrap().cause, Some(needed));
        let steps = chain(&p, "/usr/lib/libx.so.1.2");
        let paths: Vec<&str> = steps.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["usr/lib/libx.so.1.2", "usr/lib/libx.so.1"]);
        let text = render(&steps, &Profile::default());
        assert_eq!(
            text,
            "usr/lib/libx.so.1.2 ← target of symlink usr/lib/libx.so.1 ← DT_NEEDED of usr/sbin/prog"
        );
        // The directory link on the way points at what it led to.
        let lib = chain(&p, "lib");
        assert_eq!(
            lib[0].cause,
            Some(Cause::Object {
                path: "usr/lib/libx.so.1".into(),
                via: Via::Directory
            })
        );
    }

    #[test]
    fn another_requests_entries_keep_their_cause() {
        let mut p = plan();
        record(
            &mut p,
            "/usr/lib/libx.so.1.2",
            "someone else",
            Cause::Listed {
                list: "files",
                by: "someone else".into(),
            },
        );
        assert_eq!(p.get("usr/lib/libx.so.1.2").unwrap().cause, None);
    }

    #[test]
    fn listed_roots_name_the_list_module_and_profile() {
        let mut p = plan();
        let by = "module m (<builtin>/modules/m/module.toml)";
        p.insert("usr/sbin", Source::Dir, 0o755, by).unwrap();
        p.insert_bytes("usr/sbin/prog", vec![], 0o755, by).unwrap();
        record(
            &mut p,
            "usr/sbin/prog",
            by,
            Cause::Listed {
                list: "binaries",
                by: by.into(),
            },
        );
        let profile = Profile {
            name: "pr".into(),
            ..Profile::default()
        };
        assert_eq!(
            render(&chain(&p, "usr/sbin/prog"), &profile),
            "usr/sbin/prog ← binaries of module m ← profile pr"
        );
    }

    #[test]
    fn walks_resolve_through_links_and_close_matches_share_the_name() {
        let p = plan();
        assert_eq!(
            walk_plan(&p, "/lib/libx.so.1").target.as_deref(),
            Some("usr/lib/libx.so.1.2")
        );
        assert_eq!(walk_plan(&p, "/lib/nothing").target, None);
        assert_eq!(close_matches(&p, "opt/libx.so.1", 5), ["usr/lib/libx.so.1"]);
        assert_eq!(
            close_matches(&p, "libx.so.9", 5),
            ["usr/lib/libx.so.1", "usr/lib/libx.so.1.2"]
        );
        assert!(close_matches(&p, "zzz", 5).is_empty());
    }
}
