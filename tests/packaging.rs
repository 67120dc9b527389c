//! Distribution integration: where profiles and modules come from (`srbuild profiles`),
//! and, `#[ignore]`d because it installs and purges a package on this machine as root,
//! the whole .deb life cycle (`cargo xtask dist` builds it; `xtask::dist::check_package`
//! runs the same checks in CI).

mod common;

use common::{stderr, stdout};

fn put(dir: &std::path::Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn profiles_shows_the_search_order_and_where_each_came_from() {
    let d = tempfile::tempdir().unwrap();
    put(d.path(), "profiles/nfs.toml", "inherits = \"base\"\n");
    put(d.path(), "profiles/mine.toml", "inherits = \"base\"\n");
    put(d.path(), "modules/extra/module.toml", "binaries = []\n");
    let o = common::srbuild()
        .arg("profiles")
        .env("SRBUILD_DATA_DIR", d.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let dir = d.path().display().to_string();
    assert!(
        out.starts_with(&format!(
            "search order: {dir}, /etc/srbuild, /usr/share/srbuild, built in\n"
        )),
        "{out}"
    );
    let line = |name: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .to_string()
    };
    assert!(
        line("nfs").contains(&format!("{dir}/profiles/nfs.toml  (over "))
            && line("nfs").ends_with("<builtin>/profiles/nfs.toml)"),
        "{out}"
    );
    assert!(line("mine").ends_with(&format!("{dir}/profiles/mine.toml")));
    assert!(line("extra").ends_with(&format!("{dir}/modules/extra/module.toml")));
    assert!(line("gfs2").contains("profiles/gfs2.toml"));
}
