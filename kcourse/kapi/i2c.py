"""I2C transfers (drivers/i2c/i2c-core-base.c, i2c-core.h): i2c_transfer and __i2c_transfer
on an adapter, through its own algorithm and lock operations (module code).

i2c_transfer takes the bus lock with adap->lock_ops->lock_bus(adap, I2C_LOCK_SEGMENT) (the
running system is never in atomic transfer mode: system_state is SYSTEM_RUNNING), runs
__i2c_transfer and unlocks. __i2c_transfer: no master_xfer is -EOPNOTSUPP (its dev_dbg prints
nothing without dynamic debug); no messages or num < 1 is WARN_ON and -EINVAL; a suspended
adapter (locked_flags bit 0) is -ESHUTDOWN, with dev_WARN "Transfer while suspended" the
first time (bit 1); then master_xfer, retried on -EAGAIN up to adap->retries times while
jiffies stay within adap->timeout of the start. Offsets (struct i2c_adapter: algo 16,
lock_ops 32, timeout 104, retries 108, dev 112, locked_flags 864, quirks 1016; master_xfer at
0 of i2c_algorithm, unlock_bus at 16 of i2c_lock_operations) are gcc's against the pinned
headers, as tests/data/kapi4/i2cprobe recorded them. Adapters with quirks are not modelled
(i2c_check_for_quirks), nor is anything that registers adapters or clients.

i2c_register_driver and i2c_del_driver register a driver on the guest's I2C bus, which has
no adapter (kcourse.kapi.busdriver).
"""

from __future__ import annotations

from kcourse.kapi import busdriver, dev_printk, kwarn
from kcourse.kapi.registry import data, function
from kcourse.kernel.kernel import SimulatorLimit
from kcourse.machine import scheduler

ALGO, LOCK_OPS, TIMEOUT, RETRIES, DEV, LOCKED_FLAGS, QUIRKS = 16, 32, 104, 108, 112, 864, 1016
MASTER_XFER, LOCK_BUS, UNLOCK_BUS = 0, 0, 16
I2C_LOCK_SEGMENT = 2  # BIT(1)
I2C_ALF_IS_SUSPENDED, I2C_ALF_SUSPEND_REPORTED = 1, 2  # BIT(0), BIT(1)
EOPNOTSUPP, EINVAL, ESHUTDOWN, EAGAIN = 95, 22, 108, 11
# where Debian's __i2c_transfer has the two WARNs' ud2 (tests/data/kapi4/i2cprobe)
OFFSETS = {"__i2c_transfer:2280": "+0x3b3/0x590", "__i2c_transfer:56": "+0x4fb/0x590"}


def _s32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


def _int(machine, address: int) -> int:
    return _s32(int.from_bytes(machine.space.read(address, 4), "little"))


def transfer(call, adap: int, msgs: int, num: int) -> int:
    """__i2c_transfer."""
    machine, space = call.machine, call.machine.space
    algo = space.read_u64(adap + ALGO)
    master_xfer = space.read_u64(algo + MASTER_XFER)
    if not master_xfer:
        return -EOPNOTSUPP
    if not msgs or num < 1:
        kwarn.warn_on(call, "drivers/i2c/i2c-core-base.c:2280", "__i2c_transfer",
                      offset=OFFSETS["__i2c_transfer:2280"])
        return -EINVAL
    flags = space.read_u64(adap + LOCKED_FLAGS)
    if flags & I2C_ALF_IS_SUSPENDED:
        space.write_u64(adap + LOCKED_FLAGS, flags | I2C_ALF_SUSPEND_REPORTED)
        if not flags & I2C_ALF_SUSPEND_REPORTED:
            dev = adap + DEV
            kwarn.warn(call, "drivers/i2c/i2c-core.h:56", "__i2c_transfer",
                       f"{dev_printk.driver_string(call, dev)} "
                       f"{dev_printk.device_name(call, dev)}: Transfer while suspended",
                       offset=OFFSETS["__i2c_transfer:56"])
        return -ESHUTDOWN
    if space.read_u64(adap + QUIRKS):
        raise SimulatorLimit(f"kcourse: {call.site} transfers on an I2C adapter with quirks "
                             "(i2c_check_for_quirks), which the simulator does not model")
    sched = scheduler.of(machine)
    start = sched.jiffies
    ret, tries = 0, 0
    while tries <= _int(machine, adap + RETRIES):
        ret = _s32(machine.call(master_xfer, adap, msgs, num))
        if ret != -EAGAIN:
            break
        if _s32(sched.jiffies - (start + _int(machine, adap + TIMEOUT))) > 0:  # time_after
            break
        tries += 1
    return ret


@function("int __i2c_transfer(struct i2c_adapter *adap, struct i2c_msg *msgs, int num)",
          "drivers/i2c/i2c-core-base.c")
def __i2c_transfer(call, adap, msgs, num):
    return transfer(call, adap, msgs, num)


@function("int i2c_transfer(struct i2c_adapter *adap, struct i2c_msg *msgs, int num)",
          "drivers/i2c/i2c-core-base.c")
def i2c_transfer(call, adap, msgs, num):
    machine, space = call.machine, call.machine.space
    ops = space.read_u64(adap + LOCK_OPS)
    machine.call(space.read_u64(ops + LOCK_BUS), adap, I2C_LOCK_SEGMENT)  # i2c_lock_bus
    ret = transfer(call, adap, msgs, num)
    machine.call(space.read_u64(ops + UNLOCK_BUS), adap, I2C_LOCK_SEGMENT)
    return ret


# ------------------------------------------------------------------ drivers
# struct i2c_driver: the embedded device_driver at 56, the clients list at 224 (gcc's
# offsets against the pinned headers, tests/data/kapi4/busprobe); `ls /sys/bus/i2c/drivers`
# on the guest, which has no I2C adapter, so a driver never finds a client to probe or detect
I2C_DRIVER, CLIENTS = 56, 224
BOOT = frozenset({"CHT Whiskey Cove PMIC", "crystal_cove_i2c", "dummy"})
ATTRS = ("bind", "uevent", "unbind")


@data("struct bus_type i2c_bus_type", "drivers/i2c/i2c-core-base.c", busdriver.BUS_SIZE)
def i2c_bus_type(machine, address):
    return busdriver.bus_bytes(machine, "i2c")


@function("int i2c_register_driver(struct module *owner, struct i2c_driver *driver)",
          "drivers/i2c/i2c-core-base.c")
def i2c_register_driver(call, owner, driver):
    """Owner and bus set, the clients list empty, driver_register; then each adapter is
    walked for the driver's detect() (the guest has none)."""
    space = call.machine.space
    drv = driver + I2C_DRIVER
    space.write_u64(drv + busdriver.DRV["owner"], owner)
    space.write_u64(drv + busdriver.DRV["bus"], call.machine.address_of("i2c_bus_type"))
    head = driver + CLIENTS
    space.write_u64(head, head)
    space.write_u64(head + 8, head)
    return busdriver.register(call, "i2c", drv, BOOT, ATTRS)


@function("void i2c_del_driver(struct i2c_driver *driver)", "drivers/i2c/i2c-core-base.c")
def i2c_del_driver(call, driver):
    busdriver.unregister(call, "i2c", driver + I2C_DRIVER)
