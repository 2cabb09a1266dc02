"""The example kernel tree of lesson 04: real file names, objects and symbols.

Debian's linux-source-6.1 (6.1.192), unpacked in /usr/src/linux-source-6.1 and
configured (its .config, as `make olddefconfig` would leave it, reduced to the options
the model reads) with CONFIG_LOCALVERSION="-ded" and four modules. Their file names,
objects, exports, the symbols they take from each other and their aliases are those of
the real 6.1 tree and Debian's modules: drivers/block/Makefile (loop.o),
net/llc/Makefile (llc-y := llc_core.o llc_input.o llc_output.o), net/802/Makefile
(stp.o, garp.o); stp needs llc_sap_open/llc_sap_close, garp needs stp_proto_register,
stp_proto_unregister and llc_mac_hdr_init. fddi is built in (CONFIG_FDDI=y), as in
Debian's modules.builtin. `version` renames the tree, for the rules that changed.
"""

from __future__ import annotations

from kcourse.build.kernel_build import InTreeModule, KernelTree
from kcourse.build.release import ReleaseInputs
from kcourse.build.vfs import VFS


def debian_source_tree(vfs: VFS, version=(6, 1, 192), localversion="-ded",
                       compression="XZ") -> KernelTree:
    """The tree on `vfs`; see the module's docstring."""
    v, p, s = version
    name = f"linux-source-{v}.{p}" if version == (6, 1, 192) else f"linux-{v}.{p}.{s}"
    config = {f"CONFIG_KERNEL_{compression}": "y", "CONFIG_MODULES": "y",
              "CONFIG_LOCALVERSION": f'"{localversion}"', "CONFIG_BLK_DEV_LOOP": "m",
              "CONFIG_LLC": "m", "CONFIG_STP": "m", "CONFIG_GARP": "m", "CONFIG_FDDI": "y"}
    modules = [
        InTreeModule("drivers/block/loop.ko",
                     aliases=["devname:loop-control", "char-major-10-237", "block-major-7-*"]),
        InTreeModule("net/802/stp.ko", exports=["stp_proto_register", "stp_proto_unregister"],
                     needs=["llc_sap_open", "llc_sap_close"]),
        InTreeModule("net/802/garp.ko", exports=["garp_register_application"],
                     needs=["stp_proto_register", "stp_proto_unregister", "llc_mac_hdr_init"]),
        InTreeModule("net/llc/llc.ko", exports=["llc_sap_open", "llc_sap_close",
                                                "llc_mac_hdr_init"],
                     objects=["llc_core.o", "llc_input.o", "llc_output.o"]),
    ]
    tree = KernelTree(vfs, f"/usr/src/{name}",
                      ReleaseInputs(v, p, s, config_localversion=localversion),
                      config, modules, ["kernel/net/802/fddi.ko"])
    vfs.write(tree.src("Makefile"), f"VERSION = {v}\nPATCHLEVEL = {p}\nSUBLEVEL = {s}\n"
              "EXTRAVERSION =\n")
    vfs.write(tree.src(".config"), "".join(f"{k}={val}\n" for k, val in config.items()))
    for mod in modules:
        for source in mod.sources:
            vfs.write(tree.src(source), note=f"part of {mod.name}.ko")
    vfs.write(tree.src("arch/x86/boot/install.sh"), note="the kernel's fallback installer")
    return tree
