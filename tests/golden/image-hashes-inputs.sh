#!/bin/sh
# Writes the fixed inputs of the builds in image-hashes-builds.txt into DIR: a cluster
# description (a server, a seed and three members with a fence device each, knet crypto
# with an authkey), its authkey (128 fixed bytes, mode 0400), the members' BMC passwords
# and a GlusterFS client volfile. Shared by
# record-image-hashes.sh and tests/image_hashes.rs, so both build the same images.
set -eu
dir=${1:?usage: $0 DIR}
cat >"$dir/cluster.toml" <<'TOML'
[cluster]
name = "golden"
crypto_cipher = "aes256"
crypto_hash = "sha256"
authkey = "authkey"

[[network]]
name = "lab"
cidr = "10.9.0.0/24"
gateway = "10.9.0.254"

[[node]]
name = "srv"
id = 100
macs = ["52:54:00:09:00:64"]
addresses = ["10.9.0.100/24"]
roles = ["nfs-server"]
member = false

[[node]]
name = "seed"
id = 101
macs = ["52:54:00:09:00:65"]
roles = ["seed"]
member = false

[[node]]
name = "n1"
id = 1
macs = ["52:54:00:09:00:01", "52:54:00:09:01:01"]
addresses = ["10.9.0.1/24"]
[node.fence]
agent = "ipmilan"
address = "10.9.0.201"
user = "fence1"
password_file = "bmc-n1.password"

[[node]]
name = "n2"
id = 2
macs = ["52:54:00:09:00:02"]
addresses = ["10.9.0.2/24"]
[node.fence]
agent = "ipmilan"
address = "10.9.0.202"
user = "fence2"
password_file = "bmc-n2.password"

[[node]]
name = "n3"
id = 3
macs = ["52:54:00:09:00:03"]
addresses = ["10.9.0.3/24"]
[node.fence]
agent = "ipmilan"
address = "10.9.0.203"
user = "fence3"
password_file = "bmc-n3.password"
TOML
rm -f "$dir/authkey"
(umask 077 && i=0 && while [ "$i" -lt 128 ]; do printf 'k'; i=$((i + 1)); done >"$dir/authkey")
chmod 0400 "$dir/authkey"
# The members' BMC passwords (mode 0400: the builder refuses anything readable by others).
for n in 1 2 3; do
	rm -f "$dir/bmc-n$n.password"
	(umask 077 && printf 'golden-bmc-%s\n' "$n" >"$dir/bmc-n$n.password")
	chmod 0400 "$dir/bmc-n$n.password"
done
cat >"$dir/client.vol" <<'VOL'
volume root-client-0
    type protocol/client
    option remote-host 10.9.0.100
    option remote-subvolume /bricks/root
    option transport-type tcp
end-volume

volume root-write-behind
    type performance/write-behind
    subvolumes root-client-0
end-volume

volume root
    type debug/io-stats
    subvolumes root-write-behind
end-volume
VOL
