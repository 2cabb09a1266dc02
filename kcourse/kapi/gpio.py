"""GPIO, as the lab's QEMU machine answers: there is no GPIO chip at all.

drivers/gpio/gpiolib.c gpio_to_desc finds no gpio_device for any number, so it returns NULL
(printing "invalid GPIO %d" first for a number outside 0..ARCH_NR_GPIOS-1: Debian's
CONFIG_ARCH_NR_GPIO=1024, where include/asm-generic/gpio.h would default to 512). The
legacy API (drivers/gpio/gpiolib-legacy.c) then answers a valid number with -EPROBE_DEFER
("assume unavailable valid GPIOs will appear later"), which insmod shows as "Unknown error
517" (recorded: LKMPG's led, bottomhalf, intrpt, dht11, bh_threaded on Debian's kernel). The
gpiod calls on a NULL descriptor are no-ops (VALIDATE_DESC treats NULL as an optional GPIO).
"""

from __future__ import annotations

import struct

from kcourse.kapi.registry import function
from kcourse.kernel import structs

EPROBE_DEFER, EINVAL = 517, 22
ARCH_NR_GPIOS = 1024  # include/asm-generic/gpio.h: CONFIG_ARCH_NR_GPIO=1024 in Debian's config


def _valid(gpio: int) -> bool:
    return 0 <= gpio < ARCH_NR_GPIOS


@function("struct gpio_desc *gpio_to_desc(unsigned int gpio)", "drivers/gpio/gpiolib.c")
def gpio_to_desc(call, gpio):
    if not _valid(gpio):
        call.kernel.log.printk(f"\0014invalid GPIO {gpio}\n")
    return 0


def _request_one(call, gpio: int) -> int:
    gpio_to_desc(call, gpio)
    return -EPROBE_DEFER if _valid(gpio) else 0  # gpiod_request(NULL) is 0


@function("int gpio_request(unsigned int gpio, const char *label)",
          "drivers/gpio/gpiolib-legacy.c")
def gpio_request(call, gpio, label):
    return _request_one(call, gpio)


@function("int gpio_request_one(unsigned int gpio, unsigned long flags, const char *label)",
          "drivers/gpio/gpiolib-legacy.c")
def gpio_request_one(call, gpio, flags, label):
    return _request_one(call, gpio)


@function("int gpio_request_array(const struct gpio *array, size_t num)",
          "drivers/gpio/gpiolib-legacy.c")
def gpio_request_array(call, array, num):
    size = structs.sizeof("gpio")
    for i in range(num):
        gpio = struct.unpack("<I", call.machine.space.read(array + i * size, 4))[0]
        err = _request_one(call, gpio)
        if err:
            return err  # the ones before it are freed: none was taken
    return 0


@function("void gpio_free(unsigned int gpio)", "drivers/gpio/gpiolib-legacy.c")
def gpio_free(call, gpio):
    gpio_to_desc(call, gpio)  # gpiod_free(NULL): nothing to free


@function("void gpio_free_array(const struct gpio *array, size_t num)",
          "drivers/gpio/gpiolib-legacy.c")
def gpio_free_array(call, array, num):
    size = structs.sizeof("gpio")
    for i in range(num):
        gpio_free(call, struct.unpack("<I", call.machine.space.read(array + i * size, 4))[0])


@function("int gpiod_direction_output_raw(struct gpio_desc *desc, int value)",
          "drivers/gpio/gpiolib.c")
def gpiod_direction_output_raw(call, desc, value):
    return 0 if desc == 0 else -EINVAL


@function("int gpiod_direction_input(struct gpio_desc *desc)", "drivers/gpio/gpiolib.c")
def gpiod_direction_input(call, desc):
    return 0 if desc == 0 else -EINVAL


@function("void gpiod_set_raw_value(struct gpio_desc *desc, int value)",
          "drivers/gpio/gpiolib.c")
def gpiod_set_raw_value(call, desc, value):
    return None


@function("int gpiod_get_raw_value(const struct gpio_desc *desc)", "drivers/gpio/gpiolib.c")
def gpiod_get_raw_value(call, desc):
    return 0


@function("int gpiod_to_irq(const struct gpio_desc *desc)", "drivers/gpio/gpiolib.c")
def gpiod_to_irq(call, desc):
    return -EINVAL  # "if (!desc || IS_ERR(desc) || !desc->gdev || !desc->gdev->chip)"
