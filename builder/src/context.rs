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
    /// `nodes.len()`.
    pub node_count: usize,
    /// Exactly two members: votequorum's `two_node: 1`, so one survivor keeps quorum.
    pub two_node: bool,
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
}

impl ClusterContext {
    /// The members of `c`. A member needs an address: the cluster stack binds to it.
    pub fn new(c: &Cluster) -> Result<ClusterContext> {
        let mut nodes = Vec::new();
        for n in c.nodes.iter().filter(|n| n.is_member()) {
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
            });
        }
        Ok(ClusterContext {
            name: c.name.clone(),
            node_count: nodes.len(),
            two_node: nodes.len() == 2,
            nodes,
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
            "[[node]]\nname = \"seed\"\nid = 101\nmacs = [\"52:54:00:77:00:fd\"]\nroles = [\"seed\"]\n\n[[node]]\nname = \"node1\"",
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
    fn every_hook_of_every_profile_renders_with_two_and_three_members() {
        let hb = crate::image::handlebars();
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
                        corosync += 1;
                        for service in ["srv", "server", "seed"] {
                            assert!(
                                !out.contains(&format!("name: {service}\n"))
                                    && !out.contains(&format!("name = {service}\n")),
                                "{}: {service} rendered as a member",
                                hook.template.name
                            );
                        }
                        assert_eq!(
                            out.matches("nodeid: ").count() + out.matches("number = ").count(),
                            members
                        );
                    }
                    if out.contains("nodelist {") {
                        assert_eq!(out.contains("two_node: 1"), members == 2, "{out}");
                    }
                }
                hb.render_template(include_str!("../templates/init.sh.hbs"), &ctx)
                    .unwrap();
            }
        }
        assert!(corosync >= 4, "the gfs2 and ocfs2 hooks were rendered");
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
