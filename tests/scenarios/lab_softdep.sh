# Soft dependencies (MODULE_SOFTDEP, depmod's modules.softdep): modprobe loads each pre:
# module before the module, --show-depends lists it, modprobe -r removes it once unused.
modinfo -F softdep xt_TRACE
modprobe --show-depends xt_TRACE
modprobe -v xt_TRACE
lsmod
modprobe -r -v xt_TRACE
modprobe -v xt_NFLOG
ls /sys/module/nfnetlink_log/
cat /sys/module/nfnetlink/refcnt
modprobe -r -v xt_NFLOG
lsmod
modprobe -i -v xt_TRACE
modprobe -r -i -v xt_TRACE
modprobe xt_TRACE
rmmod xt_TRACE
modprobe -r -v nf_log_syslog
dmesg -c
