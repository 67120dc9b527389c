//! The boot runtime of an image: kernel modules, the cluster description and what is made
//! from it, the hooks and `/init`, and the boot contract's defaults (`cmdline.default`,
//! `profile`), and the programs modules ship in their directories (`[scripts]`).

use crate::config::{Profile, STAGES};
use crate::context::{ClusterContext, TemplateContext};
use crate::contract;
use crate::error::{BuildError, Result};
use crate::kernel::add_kernel_modules;
use crate::options::BuildOptions;
use crate::plan::Plan;
use crate::rendering::{handlebars, render, INIT_TEMPLATE, INIT_TEMPLATE_NAME};
use crate::sysroot::Sysroot;

/// Adds the boot runtime to `plan`. Returns the kernel modules in load order, each with
/// its archive path.
pub fn add_runtime(
    opts: &BuildOptions,
    profile: &Profile,
    sysroot: &Sysroot,
    kver: &str,
    plan: &mut Plan,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, String)>> {
    let requests = &profile.kernel_modules;
    let kernel_modules = add_kernel_modules(sysroot, kver, requests, plan, opts.strict, warnings)?;
    let cluster = add_cluster(opts, profile, plan)?;

    // Hooks and /init.
    let ctx = TemplateContext {
        profile: profile.name.clone(),
        kver: kver.to_string(),
        stages: STAGES.iter().map(|s| s.to_string()).collect(),
        modules: profile.modules.clone(),
        kernel_modules: kernel_modules.iter().map(|(n, _)| n.clone()).collect(),
        cluster,
    };
    let hb = handlebars();
    for hook in &profile.hooks {
        let text = render(&hb, &hook.template.name, &hook.template.text, &ctx)?;
        let at = format!(
            "usr/lib/srbuild/hooks/{}/{:02}-{}.sh",
            hook.stage, hook.priority, hook.module
        );
        plan.insert_bytes(&at, text.into_bytes(), 0o644, &hook.template.name)?;
    }
    for s in &profile.scripts {
        plan.insert_bytes(&s.path, s.file.text.clone().into_bytes(), 0o755, &s.by)?;
    }
    let init = render(&hb, INIT_TEMPLATE_NAME, INIT_TEMPLATE, &ctx)?;
    plan.insert_bytes("init", init.into_bytes(), 0o755, "srbuild")?;
    crate::init_lib::add_init_lib(plan)?;
    let mut args = profile.kernel_args.clone();
    args.extend(opts.kernel_args.iter().cloned());
    contract::write_cmdline_default(plan, &args, &profile.source)?;
    contract::write_profile(plan, &profile.name, kver, &profile.modules)?;
    Ok(kernel_modules)
}

/// The cluster description (`--cluster`): its copy, the authkey and the CHAP secret when
/// the profile wants them, the nodes table, and the context templates render it from.
fn add_cluster(
    opts: &BuildOptions,
    profile: &Profile,
    plan: &mut Plan,
) -> Result<Option<ClusterContext>> {
    let Some(path) = &opts.cluster else {
        if let Some(m) = profile.needs_cluster.first() {
            return Err(BuildError::NeedsCluster {
                profile: profile.name.clone(),
                module: m.clone(),
            });
        }
        return Ok(None);
    };
    let c = srbuild_cluster::Cluster::load(path).map_err(BuildError::Cluster)?;
    let mut ctx = ClusterContext::new(&c)?;
    if let (Some(m), 0) = (profile.needs_cluster.first(), ctx.node_count) {
        return Err(BuildError::Config {
            location: path.display().to_string(),
            message: format!(
                "the cluster description has no member nodes, and module {m} renders \
                 them into its cluster configuration; add [[node]] entries"
            ),
        });
    }
    let text = std::fs::read(path).map_err(|e| BuildError::read(path, e))?;
    contract::write_cluster_toml(plan, text)?;
    if let (true, Some(key)) = (profile.corosync_authkey, &c.crypto.authkey) {
        contract::write_authkey(plan, key)?;
    }
    if let (true, Some(a)) = (profile.iscsi_chap, &c.iscsi) {
        let secret = c
            .chap_secret()
            .map_err(BuildError::Cluster)?
            .unwrap_or_default();
        contract::write_chap_secret(plan, secret)?;
        ctx.iscsi_chap_user = Some(a.chap_user.clone());
    }
    contract::write_nodes(plan, &c)?;
    crate::fencing::add_fencing(profile, opts, &c, &mut ctx, plan)?;
    Ok(Some(ctx))
}
