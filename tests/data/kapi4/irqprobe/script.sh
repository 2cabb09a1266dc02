# irqprobe: request_threaded_irq and free_irq on the lab machine. Run in a folder holding
# irqprobe.ko: kcourse sim [--real] --transcript script.sh
insmod irqprobe.ko
dmesg | grep -e 'irqprobe [a-z]' -e WARNING -e genirq -e 'already-free' -e 'IRQ'
rmmod irqprobe
dmesg | grep -e 'irqprobe [a-z]' -e 'already-free'
