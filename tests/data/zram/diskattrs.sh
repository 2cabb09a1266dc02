# The block layer's own files of a disk (block/genhd.c, block/disk-events.c) for zram's
# zram0 (GENHD_FL_NO_PART, no events) and loop's loop0 (media_change uevents).
# Run anywhere: kcourse sim --real --transcript diskattrs.sh
modprobe zram
cd /sys/block/zram0
cat capability events events_async events_poll_msecs inflight
ls holders slaves
stat -c '%n %a %s' capability events events_async events_poll_msecs inflight holders slaves
echo 100 > events_poll_msecs
echo -5 > events_poll_msecs
echo x > events_poll_msecs
cat events_poll_msecs
modprobe loop
cd /sys/block/loop0
cat capability events events_async events_poll_msecs inflight
ls holders slaves
echo 100 > events_poll_msecs
cd /
rmmod loop zram
