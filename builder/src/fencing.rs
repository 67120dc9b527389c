//! dlm fencing in an image: whether it is on by default (the profile's `fencing`, then
//! `srbuild.fencing=` among the image's kernel arguments), the rule that every member of a
//! profile that runs dlm has a fence device while it is on, and what goes in for each
//! device: its password file (a secret, `contract::write_fence_password`) and the values
//! `dlm.conf` is rendered from ([`FenceContext`]).

use crate::config::Profile;
use crate::context::{ClusterContext, FenceContext};
use crate::contract;
use crate::error::{BuildError, Result};
use crate::options::BuildOptions;
use crate::plan::Plan;
use srbuild_cluster::Cluster;

/// The module that carries the fence agent and `ipmitool`.
pub const AGENT_MODULE: &str = "fence-ipmi";
/// The agent `dlm.conf` names for `agent = "ipmilan"`.
pub const AGENT_PATH: &str = "/usr/sbin/fence_srbuild_ipmi";

/// Whether fencing is on by default in an image of `profile` built with `opts`, and if
/// not, what turned it off. The last word decides: the profile's `fencing`, then each
/// `srbuild.fencing=0|1` of the profile's and `--kernel-arg`'s arguments in order.
pub fn default_on(profile: &Profile, opts: &BuildOptions) -> Result<(bool, Option<String>)> {
    let mut off = profile
        .fencing_off_by
        .as_ref()
        .map(|f| format!("fencing = false in {f}"));
    for arg in profile.kernel_args.iter().chain(&opts.kernel_args) {
        let Some(v) = arg.strip_prefix("srbuild.fencing=") else {
            continue;
        };
        off = match v {
            "0" => Some(format!("{arg} in the image's kernel arguments")),
            "1" => None,
            _ => {
                return Err(BuildError::Config {
                    location: "kernel arguments".into(),
                    message: format!(
                        "{:?}: srbuild.fencing takes 0 (off) or 1 (on)",
                        arg.chars().take(60).collect::<String>()
                    ),
                })
            }
        };
    }
    Ok((off.is_none(), off))
}

/// `file:line` of `name = "NODE"` in the description, for errors about a node.
fn node_location(c: &Cluster, node: &str) -> String {
    let text = std::fs::read_to_string(&c.source).unwrap_or_default();
    let needle = format!("\"{node}\"");
    text.lines()
        .position(|l| l.trim_start().starts_with("name") && l.contains(&needle))
        .map_or_else(
            || c.source.display().to_string(),
            |i| format!("{}:{}", c.source.display(), i + 1),
        )
}

/// Applies the fencing rules to an image of `profile` with cluster `c`: with a module that
/// runs dlm and fencing on, a member without a fence device is an error naming it; each
/// member's device (when the profile runs dlm) has its password written into the image
/// and its values put into `ctx` for `dlm.conf`.
pub fn add_fencing(
    profile: &Profile,
    opts: &BuildOptions,
    c: &Cluster,
    ctx: &mut ClusterContext,
    plan: &mut Plan,
) -> Result<()> {
    let (on, _) = default_on(profile, opts)?;
    ctx.fencing = on;
    let Some(dlm) = profile.dlm.first() else {
        return Ok(());
    };
    let members: Vec<_> = c.nodes.iter().filter(|n| n.is_member()).collect();
    if on {
        if let Some(n) = members.iter().find(|n| n.fence.is_none()) {
            return Err(BuildError::Config {
                location: node_location(c, &n.name),
                message: format!(
                    "node '{}' has no fence device ([node.fence]), and module {dlm} runs dlm \
                     with fencing on: dlm must power a failed member off before its journal \
                     is replayed. Add a [node.fence] table (agent, address, user, \
                     password_file) after node '{}', or turn fencing off explicitly \
                     (`fencing = false` in the profile, or the image's kernel \
                     argument srbuild.fencing=0: srbuild image --kernel-arg srbuild.fencing=0)",
                    n.name, n.name
                ),
            });
        }
    }
    for (i, n) in c.nodes.iter().filter(|n| n.is_member()).enumerate() {
        let Some(f) = &n.fence else { continue };
        if !profile.modules.iter().any(|m| m == AGENT_MODULE) {
            return Err(BuildError::Config {
                location: node_location(c, &n.name),
                message: format!(
                    "node '{}' has a fence device of agent {}, whose fence agent is module \
                     {AGENT_MODULE}, which profile {} does not list; add it to the \
                     profile's modules",
                    n.name, f.agent, profile.name
                ),
            });
        }
        let password = c
            .fence_password(n)
            .map_err(BuildError::Cluster)?
            .unwrap_or_default();
        contract::write_fence_password(plan, &n.name, password)?;
        // The member's index in ctx.nodes: both lists are the members in order.
        let Some(m) = ctx.nodes.get_mut(i).filter(|m| m.name == n.name) else {
            continue;
        };
        m.fence = Some(FenceContext {
            device: format!("bmc-{}", n.name),
            agent: AGENT_PATH.into(),
            ip: f.address.to_string(),
            port: f.port,
            cipher: f.cipher,
            user: f.user.clone(),
            password_file: format!("/{}", contract::fence_password_path(&n.name)),
        });
    }
    ctx.fence_every_member = ctx.nodes.iter().all(|m| m.fence.is_some());
    Ok(())
}
