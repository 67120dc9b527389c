//! `srbuild-lab`: the mechanics of the QEMU test lab.
//!
//! This crate owns everything needed to boot cluster nodes under QEMU
//! without root: choosing the accelerator ([`accel`]), a user-space
//! Ethernet hub that joins the nodes into one L2 segment ([`hub`]),
//! building and supervising QEMU processes ([`qemu`]), killing them on
//! every exit path ([`cleanup`]), reading their serial consoles
//! ([`console`]) and reporting results ([`report`]).  Lab specs,
//! artifacts and scenarios are layered on top of this API elsewhere.

pub mod accel;
pub mod bmc;
pub mod cleanup;
pub mod console;
pub mod error;
pub mod host_tools;
pub mod hub;
pub mod process;
pub mod qemu;
pub mod qmp;
pub mod report;
pub mod run;
pub mod segments;
pub mod terminal;
pub mod timeout;

pub use accel::Accel;
pub use cleanup::Guard;
pub use console::{ConsoleEvent, ConsoleWatcher, WaitError};
pub use error::{LabError, Result};
pub use hub::{Hub, HubHandle};
pub use qemu::{Disk, DiskFormat, Nic, Vm, VmSpec};
pub use report::NodeResult;
