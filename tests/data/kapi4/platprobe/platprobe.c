// SPDX-License-Identifier: GPL-2.0
/* platprobe: platform devices and drivers (drivers/base/platform.c, dd.c, bus.c, driver.c),
 * devres (drivers/base/devres.c) and the DMA direct mapping (kernel/dma/mapping.c, direct.c)
 * as Debian's kernel answers them in the lab's QEMU machine. */
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>

static struct platform_device *pa, *pb, *pc;

static int kcplat_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	void *buf;
	dma_addr_t handle;

	pr_info("platprobe probe %s id %d auto %d driver '%s' bus '%s' mask %llx coherent %llx\n",
		dev_name(dev), pdev->id, pdev->id_auto, dev_driver_string(dev),
		dev->bus ? dev->bus->name : "-", dev->dma_mask ? *dev->dma_mask : 0ULL,
		dev->coherent_dma_mask);
	if (pdev->id == 2)
		return dev_err_probe(dev, -EINVAL, "platprobe refuses %d\n", pdev->id);
	if (pdev->id == 4)
		return dev_err_probe(dev, -EPROBE_DEFER, "platprobe defers\n");
	buf = devm_kzalloc(dev, 100, GFP_KERNEL);
	pr_info("platprobe devm %d ksize %zu\n", buf != NULL, ksize(buf));
	pr_info("platprobe set_mask %d %llx\n", dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)),
		*dev->dma_mask);
	buf = devm_kmalloc(dev, 4096, GFP_KERNEL);
	handle = dma_map_single(dev, buf, 4096, DMA_TO_DEVICE);
	pr_info("platprobe map %d same %d\n", dma_mapping_error(dev, handle),
		handle == virt_to_phys(buf));
	dma_unmap_single(dev, handle, 4096, DMA_TO_DEVICE);
	buf = dmam_alloc_coherent(dev, 8192, &handle, GFP_KERNEL);
	pr_info("platprobe coherent %d same %d aligned %d\n", buf != NULL,
		handle == virt_to_phys(buf), (handle & 8191) == 0);
	dev_info(dev, "platprobe bound\n");
	return 0;
}

static int kcplat_remove(struct platform_device *pdev)
{
	dev_info(&pdev->dev, "platprobe remove\n");
	return 0;
}

static struct platform_driver kcplat_driver = {
	.probe = kcplat_probe,
	.remove = kcplat_remove,
	.driver = { .name = "kcplat" },
};

static struct platform_driver taken_driver = {
	.probe = kcplat_probe,
	.driver = { .name = "serial8250" },
};

static int __init platprobe_init(void)
{
	int ret;

	pa = platform_device_register_simple("kcplat", 3, NULL, 0);
	pr_info("platprobe a %d %s\n", IS_ERR(pa) ? (int)PTR_ERR(pa) : 0, dev_name(&pa->dev));
	ret = platform_driver_register(&kcplat_driver);
	pr_info("platprobe driver %d\n", ret);
	pb = platform_device_alloc("kcplat", PLATFORM_DEVID_AUTO);
	pr_info("platprobe b alloc name '%s' mask %llx coherent %llx\n", pb->name,
		*pb->dev.dma_mask, pb->dev.coherent_dma_mask);
	pr_info("platprobe b add %d %s\n", platform_device_add(pb), dev_name(&pb->dev));
	pc = platform_device_alloc("kcplat", 2);
	pr_info("platprobe c add %d %s bound %d\n", platform_device_add(pc), dev_name(&pc->dev),
		pc->dev.driver != NULL);
	ret = platform_driver_register(&taken_driver);
	pr_info("platprobe taken %d\n", ret);
	return 0;
}

static void __exit platprobe_exit(void)
{
	platform_device_unregister(pc);
	platform_driver_unregister(&kcplat_driver);
	platform_device_unregister(pb);
	platform_device_unregister(pa);
	pr_info("platprobe exit\n");
}

module_init(platprobe_init);
module_exit(platprobe_exit);
MODULE_LICENSE("GPL");
