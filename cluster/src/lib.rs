//! srbuild-cluster: the cluster description (`cluster.toml`), the
//! `srbuild cluster …` commands (list/show/query/addnode/removenode/netboot)
//! and CDSL management (`srbuild cdsl …`) for shared-root trees.

pub mod cdsl;
pub mod cli;
pub mod description;
pub mod edit;
pub mod error;
pub mod fence;
mod fsutil;
pub mod http_base;
pub mod iscsi;
pub mod netboot;
pub mod query;
mod secret_file;

pub use cli::{run_cdsl, run_cluster, CdslArgs, ClusterArgs};
pub use description::{
    normalize_mac, valid_iscsi_name, Cidr, Cluster, Crypto, FailoverDomain, Network, Node, TOKEN_MS,
};
pub use error::{ClusterError, Diagnostic};
pub use fence::FenceDevice;
