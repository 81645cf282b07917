/* See LICENSE file for copyright and license details. */
/*
 * The trivial init of the boot benchmark: restart at once, which the
 * kernel's reboot=t turns into a triple fault that ends the VM, in husk
 * and in qemu -no-reboot alike.
 */
#include <unistd.h>
#include <sys/reboot.h>

int
main(void)
{
	reboot(RB_AUTOBOOT);
	return 1;
}
