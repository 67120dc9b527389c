//! Where a root kind's root lives, one layout per [`Storage`] variant: the recipes that
//! make its disks, which disk each role attaches, and each client's disks.

use crate::qemu::{Disk, DiskFormat};
use crate::run::kinds::{RoleDisk, SharedFormat, Sizes, Storage};
use crate::run::recipe::Recipe;
use crate::run::topology::LabNode;
use std::path::{Path, PathBuf};

/// A kind's disks for one run.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// What makes them, in order.
    pub recipes: Vec<Recipe>,
    data: Option<PathBuf>,
    source: Option<PathBuf>,
    shared: Option<PathBuf>,
    /// The clients' own copy-on-write overlays are made over this base.
    overlay_base: Option<PathBuf>,
    /// The shared disk is only the server's (an iSCSI LUN): the clients attach no disk.
    served: bool,
}

/// What a layout is made from.
pub struct LayoutInput<'a> {
    /// The run's artifacts directory.
    pub work: &'a Path,
    /// The root tree (moved or copied into the disks).
    pub tree: &'a Path,
    pub sizes: Sizes,
    pub shared: SharedFormat,
    /// Netboot files to put on the data disk (before it is made).
    pub netboot: Option<Recipe>,
    /// What a root image leaves out (the paths a hybrid root keeps on the network).
    pub exclude: Vec<String>,
    /// The tree is a Debian root (not the busybox one).
    pub debian: bool,
}

fn disk(path: &Path, format: DiskFormat, shared: bool, readonly: bool) -> Disk {
    Disk {
        path: path.to_path_buf(),
        format,
        shared,
        readonly,
    }
}

/// The layout of `storage`.
pub fn layout(storage: Storage, i: LayoutInput) -> Layout {
    let mut l = Layout::default();
    match storage {
        Storage::Volume if i.debian => {
            let img = i.work.join("server-data.img");
            l.recipes.push(Recipe::Bricks {
                tree: i.tree.to_path_buf(),
                image: img.clone(),
                size_mb: i.sizes.disk_mb,
                label: "labroot",
            });
            l.data = Some(img);
        }
        Storage::ServerExport | Storage::ServerImage { .. } | Storage::Volume => {
            let data = i.work.join("data");
            l.recipes.push(Recipe::DataDir {
                tree: i.tree.to_path_buf(),
                dir: data.clone(),
            });
            if let Storage::ServerImage { dir, file } = storage {
                l.recipes.push(Recipe::RootImage {
                    tree: data.join("root"),
                    output: data.join(dir).join(file),
                    exclude: i.exclude,
                    sum: i.work.join(format!("{file}.sha256")),
                });
            }
            l.recipes.extend(i.netboot);
            let img = i.work.join("server-data.img");
            l.recipes.push(Recipe::Mkfs {
                fs: "ext4",
                src: data,
                image: img.clone(),
                size_mb: i.sizes.disk_mb,
                label: "labroot",
            });
            l.data = Some(img);
        }
        Storage::Overlay { fs } => {
            let base = i.work.join(format!("{fs}-base.img"));
            l.recipes.push(Recipe::Mkfs {
                fs,
                src: i.tree.to_path_buf(),
                image: base.clone(),
                size_mb: i.sizes.disk_mb,
                label: "labroot",
            });
            l.overlay_base = Some(base);
        }
        Storage::Shared(format) | Storage::Target(format) => {
            l.served = matches!(storage, Storage::Target(_));
            let src = i.work.join("seed-source.img");
            l.recipes.push(Recipe::Mkfs {
                fs: "ext4",
                src: i.tree.to_path_buf(),
                image: src.clone(),
                size_mb: i.sizes.source_mb,
                label: "labsrc",
            });
            let shared = i.work.join("shared.img");
            l.recipes.push(Recipe::SharedDisk {
                path: shared.clone(),
                size_mb: i.sizes.disk_mb,
                format,
                with: i.shared,
            });
            l.source = Some(src);
            l.shared = Some(shared);
        }
    }
    l
}

impl Layout {
    /// The shared disk, for layouts that have one.
    pub fn shared(&self) -> Option<&Path> {
        self.shared.as_deref()
    }

    /// The disks a role attaches, in its order; one the layout lacks is left out.
    pub fn role_disks(&self, wants: &[RoleDisk]) -> Vec<Disk> {
        wants
            .iter()
            .filter_map(|w| match w {
                RoleDisk::Data => self
                    .data
                    .as_deref()
                    .map(|p| disk(p, DiskFormat::Raw, false, false)),
                RoleDisk::Source => self
                    .source
                    .as_deref()
                    .map(|p| disk(p, DiskFormat::Raw, false, true)),
                RoleDisk::Shared => self
                    .shared
                    .as_deref()
                    .map(|p| disk(p, DiskFormat::Raw, true, false)),
            })
            .collect()
    }

    /// Client `n`'s disks, and what makes the ones of its own.
    pub fn client_disks(&self, work: &Path, n: &LabNode) -> (Vec<Disk>, Vec<Recipe>) {
        if let Some(base) = &self.overlay_base {
            let own = work.join(format!("{}.qcow2", n.name));
            let recipe = Recipe::Overlay {
                base: base.clone(),
                path: own.clone(),
            };
            return (
                vec![disk(&own, DiskFormat::Qcow2, false, false)],
                vec![recipe],
            );
        }
        let disks = self
            .shared
            .iter()
            .filter(|_| !self.served)
            .map(|p| disk(p, DiskFormat::Raw, true, false))
            .collect();
        (disks, Vec::new())
    }
}
