//! Fuzz target `cluster_toml`: any text as a cluster description (`cluster.toml`). Parsing
//! and validation must give a `Cluster` or located diagnostics, never a panic; an accepted
//! description keeps the promises the builder relies on (node ids 1..=255 and unique, plain
//! node names, normalized MACs that find their node).
#![no_main]

use libfuzzer_sys::fuzz_target;
use srbuild_cluster::description::valid_node_name;
use srbuild_cluster::{normalize_mac, Cluster};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Cluster::parse(text, Path::new("<fuzz>/cluster.toml")) {
        Ok(cluster) => {
            let mut ids = std::collections::HashSet::new();
            for node in &cluster.nodes {
                assert!((1..=255).contains(&node.id), "node id {}", node.id);
                assert!(ids.insert(node.id), "node id {} twice", node.id);
                assert!(valid_node_name(&node.name), "node name {:?}", node.name);
                for mac in &node.macs {
                    assert_eq!(normalize_mac(mac).as_deref(), Ok(mac.as_str()));
                    assert!(cluster.node_by_mac(mac).is_some(), "mac {mac}");
                }
                assert!(cluster.require_node(&node.name).is_ok());
                if let Some(addr) = node.primary() {
                    let _ = (addr.netmask(), addr.network(), cluster.network_of(addr));
                }
                let _ = node.is_member();
            }
            for net in &cluster.networks {
                assert!(net.cidr.contains(&net.cidr.network()), "{:?}", net.cidr);
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty(), "empty error message: {e:?}");
        }
    }
});
