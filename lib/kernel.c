/* kernel.c -- the list of kernels a machine can follow, and their names.
 * Each kernel's table lives in its own file (kernel_6_18.c, kernel_4_19.c);
 * this file only finds them.
 */
#include <errno.h>
#include <string.h>

#include "vm-internal.h"

static const struct kernel_table *const kernels[VM_NR_KERNELS] = {
	[VM_KERNEL_6_18] = &vmi_kernel_6_18,
	[VM_KERNEL_4_19] = &vmi_kernel_4_19,
};

const struct kernel_table *vmi_kernel(enum vm_kernel id)
{
	return (unsigned)id < VM_NR_KERNELS ? kernels[id] : NULL;
}

const char *vm_kernel_name(enum vm_kernel kernel)
{
	const struct kernel_table *k = vmi_kernel(kernel);

	return k ? k->name : "?";
}

int vm_kernel_from_name(const char *name, enum vm_kernel *ret_kernel)
{
	if (!name || !ret_kernel)
		return -EINVAL;
	for (unsigned i = 0; i < VM_NR_KERNELS; i++) {
		if (strcmp(name, kernels[i]->name) == 0) {
			*ret_kernel = (enum vm_kernel)i;
			return 0;
		}
	}
	return -EINVAL;
}

const struct vm_test_vmalloc_desc *vm_kernel_test_vmalloc(enum vm_kernel kernel)
{
	const struct kernel_table *k = vmi_kernel(kernel);

	return k ? &k->test_vmalloc : NULL;
}
