//! The typed context every hook template and `/init` are rendered against. Every field is
//! always present (an absent cluster is `null`), so handlebars' strict mode catches a
//! template that names a field the builder never sets, including inside `#if`.

use crate::error::{BuildError, Result};
use serde::Serialize;
use srbuild_cluster::Cluster;

/// The whole rendering context.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateContext {
    pub profile: String,
    pub kver: String,
    pub stages: Vec<String>,
    pub modules: Vec<String>,
    pub kernel_modules: Vec<String>,
    /// `None` (rendered as `null`) when the image is built without `--cluster`.
    pub cluster: Option<ClusterContext>,
}

/// The cluster description as templates see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterContext {
    pub name: String,
    /// The cluster-stack members only: these go into `corosync.conf` and the o2cb
    /// `cluster.conf`. Service nodes (an NFS server, a seed) are left out.
    pub nodes: Vec<MemberContext>,
    /// The members' names, separated by spaces (for shell: `{{sh cluster.member_names}}`).
    pub member_names: String,
    /// `nodes.len()`.
    pub node_count: usize,
    /// Exactly two members: votequorum's `two_node: 1`, so one survivor keeps quorum.
    pub two_node: bool,
    /// corosync knet crypto: `none` or a cipher / hash name from a fixed list.
    pub crypto_cipher: String,
    pub crypto_hash: String,
    /// corosync's totem `token` in milliseconds, when the description sets `token_ms`.
    pub token_ms: Option<u32>,
    /// An authkey goes into the image (`etc/srbuild/corosync-authkey`).
    pub authkey: bool,
    /// dlm fencing is on unless the kernel command line says `srbuild.fencing=0`: the
    /// image's default (`crate::fencing`).
    pub fencing: bool,
    /// Every member has a fence device in the image (`MemberContext::fence`).
    pub fence_every_member: bool,
    /// The CHAP user of the root's iSCSI sessions (`[iscsi]`), when the profile has a
    /// module that logs in or serves and the description has the table; its secret is
    /// `contract::CHAP_SECRET`.
    pub iscsi_chap_user: Option<String>,
}

/// A member's fence device as `dlm.conf` names it (`crate::fencing` fills it in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FenceContext {
    /// dlm's device name, `bmc-NODE`.
    pub device: String,
    /// The agent program in the image.
    pub agent: String,
    pub ip: String,
    pub port: u16,
    pub cipher: u8,
    pub user: String,
    /// The password file in the image (absolute).
    pub password_file: String,
}

/// One cluster-stack member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberContext {
    pub name: String,
    pub id: u32,
    pub macs: Vec<String>,
    /// The primary address without prefix (`10.77.0.11`).
    pub address: String,
    /// The primary address with prefix (`10.77.0.11/24`).
    pub cidr: String,
    pub roles: Vec<String>,
    /// The member's fence device, when the image carries one.
    pub fence: Option<FenceContext>,
    /// The member's iSCSI initiator name from the description (checked there), if any.
    pub iscsi_initiator: Option<String>,
}

impl ClusterContext {
    /// The members of `c`. A member needs an address: the cluster stack binds to it.
    pub fn new(c: &Cluster) -> Result<ClusterContext> {
        // These go into config files (corosync.conf, cluster.conf) inside quoted heredocs,
        // where no quoting applies: they must be plain words. The cluster crate checks them
        // when it parses; this holds for a Cluster made any other way too.
        let source = c.source.display();
        crate::names::check_plain_name(&format!("cluster name in {source}"), &c.name)?;
        if let Some(v) = c
            .token_ms
            .filter(|v| !srbuild_cluster::TOKEN_MS.contains(v))
        {
            return Err(BuildError::TokenOutOfRange {
                cluster: c.source.clone(),
                value: v,
            });
        }
        let mut nodes = Vec::new();
        for n in c.nodes.iter().filter(|n| n.is_member()) {
            crate::names::check_plain_name(&format!("node name in {source}"), &n.name)?;
            let a = n
                .primary()
                .ok_or_else(|| BuildError::MemberWithoutAddress {
                    cluster: c.source.clone(),
                    node: n.name.clone(),
                })?;
            nodes.push(MemberContext {
                name: n.name.clone(),
                id: n.id,
                macs: n.macs.clone(),
                address: a.addr.to_string(),
                cidr: a.to_string(),
                roles: n.roles.clone(),
                fence: None,
                iscsi_initiator: n.iscsi_initiator.clone(),
            });
        }
        Ok(ClusterContext {
            name: c.name.clone(),
            member_names: nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            node_count: nodes.len(),
            two_node: nodes.len() == 2,
            nodes,
            crypto_cipher: c.crypto.cipher.clone(),
            crypto_hash: c.crypto.hash.clone(),
            token_ms: c.token_ms,
            authkey: c.crypto.authkey.is_some(),
            fencing: true,
            fence_every_member: false,
            iscsi_chap_user: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cluster(text: &str) -> Cluster {
        Cluster::parse(text, Path::new("c.toml")).unwrap()
    }

    const TWO: &str = r#"
[cluster]
name = "lab"
[[network]]
name = "lab"
cidr = "10.77.0.0/24"
[[node]]
name = "server"
id = 100
macs = ["52:54:00:77:00:fe"]
addresses = ["10.77.0.1/24"]
roles = ["nfs-server"]
member = false
[[node]]
name = "node1"
id = 1
macs = ["52:54:00:77:00:11"]
addresses = ["10.77.0.11/24"]
[[node]]
name = "node2"
id = 2
macs = ["52:54:00:77:00:12"]
addresses = ["10.77.0.12/24"]
"#;

    #[test]
    fn members_exclude_service_nodes_and_two_members_set_two_node() {
        let ctx = ClusterContext::new(&cluster(TWO)).unwrap();
        let names: Vec<&str> = ctx.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node1", "node2"]);
        assert_eq!(ctx.node_count, 2);
        assert!(ctx.two_node);
        assert_eq!(ctx.nodes[0].address, "10.77.0.11");
        assert_eq!(ctx.nodes[0].cidr, "10.77.0.11/24");
    }

    fn sample(members: usize) -> TemplateContext {
        let mut text = TWO.replace(
            "[[node]]\nname = \"node1\"",
            "[[node]]\nname = \"seed\"\nid = 101\nmacs = [\"52:54:00:77:00:fd\"]\nroles = [\"seed\"]\nmember = false\n\n[[node]]\nname = \"node1\"",
        );
        if members == 3 {
            text.push_str(
                "[[node]]\nname = \"node3\"\nid = 3\nmacs = [\"52:54:00:77:00:13\"]\naddresses = [\"10.77.0.13/24\"]\n",
            );
        }
        TemplateContext {
            profile: "sample".into(),
            kver: "6.1.0-9-amd64".into(),
            stages: crate::config::STAGES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            modules: vec![],
            kernel_modules: vec![],
            cluster: Some(ClusterContext::new(&cluster(&text)).unwrap()),
        }
    }

    #[test]
    fn a_token_in_the_description_reaches_corosync_conf_and_none_keeps_the_default() {
        let hb = crate::rendering::handlebars();
        let stack = include_str!("../../modules/cluster-stack/start-stack.sh.hbs");
        let mut ctx = sample(2);
        let out = hb.render_template(stack, &ctx).unwrap();
        assert!(!out.contains("token:"), "{out}");
        let text = TWO.replacen("[cluster]\n", "[cluster]\ntoken_ms = 10000\n", 1);
        ctx.cluster = Some(ClusterContext::new(&cluster(&text)).unwrap());
        let out = hb.render_template(stack, &ctx).unwrap();
        let totem = &out[out.find("totem {").unwrap()..out.find("nodelist {").unwrap()];
        assert!(totem.contains("\ttoken: 10000\n"), "{totem}");
        // A Cluster not made by parsing is checked again here.
        let mut c = cluster(&text);
        for bad in [0, 5, 300_001] {
            c.token_ms = Some(bad);
            let e = ClusterContext::new(&c).unwrap_err().to_string();
            assert!(
                e.contains(&format!("token_ms = {bad} is out of range")),
                "{e}"
            );
        }
    }

    #[test]
    fn every_hook_of_every_profile_renders_with_two_and_three_members() {
        let hb = crate::rendering::handlebars();
        let mut library = crate::library::Library::standard();
        let mut corosync = 0;
        for name in library.profile_names() {
            let profile = crate::config::load_profile(&mut library, &name).unwrap();
            for members in [2, 3] {
                let ctx = sample(members);
                for hook in &profile.hooks {
                    let out = hb
                        .render_template(&hook.template.text, &ctx)
                        .unwrap_or_else(|e| panic!("{name}: {}: {e}", hook.template.name));
                    assert!(
                        !out.contains("{{"),
                        "{}: unrendered braces",
                        hook.template.name
                    );
                    // Only members are rendered, never the server or the seed.
                    if hook.template.text.contains("{{#each cluster.nodes}}") {
                        for service in ["srv", "server", "seed"] {
                            assert!(
                                !out.contains(&format!("name: {service}\n"))
                                    && !out.contains(&format!("name = {service}\n")),
                                "{}: {service} rendered as a member",
                                hook.template.name
                            );
                        }
                    }
                    // A membership config (corosync's nodelist, o2cb's cluster.conf) has
                    // one entry per member.
                    if hook.template.text.contains("{{#each cluster.nodes}}")
                        && (hook.template.text.contains("nodeid: ")
                            || hook.template.text.contains("number = "))
                    {
                        corosync += 1;
                        assert_eq!(
                            out.matches("nodeid: ").count() + out.matches("number = ").count(),
                            members
                        );
                    }
                    // A corosync.conf of the description's members (a heredoc); the lab
                    // seed's one-node conf (a printf format, "nodelist {\\n") is not one.
                    if out.contains("nodelist {\n") {
                        assert_eq!(out.contains("two_node: 1"), members == 2, "{out}");
                    }
                }
                hb.render_template(include_str!("../templates/init.sh.hbs"), &ctx)
                    .unwrap();
            }
        }
        assert!(corosync >= 4, "the gfs2 and ocfs2 hooks were rendered");
    }

    const HOSTILE: &[&str] = &[
        "y$(touch PWNED)",
        "a'b\"c`id`d\\e",
        "line\nrm -rf /\n#",
        "$HOME ${IFS} ; & | < > * ? [ ]",
    ];

    /// Runs `script` with sh, given on stdin (a long script does not fit in an argument).
    fn run_sh(script: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = std::process::Command::new("sh")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    #[test]
    fn the_sh_helper_round_trips_hostile_values_through_the_shell() {
        let hb = crate::rendering::handlebars();
        let long = "x'".repeat(50_000);
        for v in HOSTILE.iter().copied().chain([long.as_str()]) {
            let script = hb
                .render_template(
                    "X={{sh v}}\nprintf %s \"$X\"",
                    &serde_json::json!({ "v": v }),
                )
                .unwrap();
            let o = run_sh(&script);
            assert!(
                o.status.success(),
                "{v:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&o.stdout), v);
        }
        let err = hb
            .render_template("X={{sh v}}", &serde_json::json!({ "v": "a\u{0}b" }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("NUL"), "{err}");
        assert!(!std::path::Path::new("PWNED").exists());
    }

    #[test]
    fn init_and_every_hook_stay_valid_shell_with_hostile_profile_and_kernel_names() {
        let hb = crate::rendering::handlebars();
        let mut library = crate::library::Library::standard();
        let dir = tempfile::tempdir().unwrap();
        for v in HOSTILE {
            let mut ctx = sample(2);
            ctx.profile = v.to_string();
            ctx.kver = v.to_string();
            let mut texts = vec![(
                "init".to_string(),
                include_str!("../templates/init.sh.hbs").to_string(),
            )];
            for name in library.profile_names() {
                let p = crate::config::load_profile(&mut library, &name).unwrap();
                texts.extend(
                    p.hooks
                        .iter()
                        .map(|h| (h.template.name.clone(), h.template.text.clone())),
                );
            }
            for (name, text) in texts {
                let out = hb.render_template(&text, &ctx).unwrap();
                let f = dir.path().join("s.sh");
                std::fs::write(&f, &out).unwrap();
                let o = std::process::Command::new("sh")
                    .arg("-n")
                    .arg(&f)
                    .output()
                    .unwrap();
                assert!(
                    o.status.success(),
                    "{name} with {v:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                if name == "init" {
                    // The value comes back out of the assignment intact.
                    let line = format!("SR_PROFILE={}", crate::rendering::shell_quote(v));
                    assert!(out.contains(&line), "{name}: {line}");
                    let o = run_sh(&format!("{line}\nprintf %s \"$SR_PROFILE\""));
                    assert_eq!(String::from_utf8_lossy(&o.stdout), *v);
                }
            }
        }
    }

    #[test]
    fn names_that_are_not_plain_words_never_reach_a_config_file() {
        let mut c = cluster(TWO);
        c.nodes[1].name = "node1\nSR_EOF\nreboot".into();
        let err = ClusterContext::new(&c).unwrap_err().to_string();
        assert!(err.contains("not a usable name"), "{err}");
        let mut c = cluster(TWO);
        c.name = "lab$(id)".into();
        assert!(ClusterContext::new(&c).is_err());
    }

    #[test]
    fn a_member_without_an_address_is_an_error_naming_it() {
        let text = TWO.replace("addresses = [\"10.77.0.12/24\"]\n", "");
        let err = ClusterContext::new(&cluster(&text))
            .unwrap_err()
            .to_string();
        assert!(err.contains("node2") && err.contains("c.toml"), "{err}");
        assert!(err.contains("address"), "{err}");
    }
}
