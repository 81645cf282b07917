/* See LICENSE file for copyright and license details. */
/*
 * The virtual machine: raw KVM ioctls. vmm_new checks KVM, maps guest
 * RAM, loads an uncompressed vmlinux (ELF) and creates the vCPUs;
 * vmm_add_device wires a virtio-mmio device to KVM (an irqfd for its
 * interrupt, an ioeventfd per queue notify); vmm_start writes the zero
 * page, command line, initramfs, page tables, GDT and MP table, sets the
 * vCPUs up and starts one thread per vCPU. The 64-bit boot protocol is
 * entered directly: no BIOS, no real mode.
 *
 * Only the bootstrap vCPU is set running; the kernel finds the others
 * in the MP table and wakes them with INIT and SIPI through KVM's
 * in-kernel local APICs. KVM also emulates the IOAPIC, the PICs and the
 * PIT.
 *
 * A vCPU thread, under its own seccomp filter (seccomp.c) from its
 * start, only runs KVM_RUN and handles the exits that cannot be
 * eventfds: the 8250 UART at 0x3f8, the i8042 reset line, and register
 * accesses to the virtio-mmio devices. The first vCPU to see the VM end
 * (a triple fault from reboot=t, an i8042 reset, a system event, an
 * error) records why, writes the exit eventfd and kicks the others out
 * of KVM_RUN. A guest power-off is a restart here: the guest kernel has
 * no ACPI, its init restarts, and reboot=t makes that a triple fault, so
 * VM_RESET is the clean end of a VM. A "Kernel panic" line on the
 * console turns whatever end follows into VM_CRASH, with that line as
 * the reason.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/kvm.h>
#include <asm/bootparam.h>

#include "husk.h"

/* the guest's memory map */
#define GDTADDR		0x500	/* GDT: null, code, data, TSS */
#define IDTADDR		0x520	/* an empty IDT */
#define ZEROPAGE	0x7000	/* struct boot_params */
#define BOOTSTACK	0x8ff0	/* rsp at entry */
#define PML4ADDR	0x9000	/* identity page tables: PML4, */
#define PDPTADDR	0xa000	/* one PDPT, */
#define PDADDR		0xb000	/* four PDs of 2 MiB pages: 4 GiB */
#define CMDLINEADDR	0x20000	/* the kernel command line */
#define CMDLINEMAX	2048	/* x86 COMMAND_LINE_SIZE, NUL included */
#define EBDAADDR	0x9fc00	/* the MP table lives here (last KiB of base memory), */
#define EBDAEND		0xa0000	/* reserved up to HIMEM */
#define HIMEM		0x100000	/* the kernel loads at or above */
#define INITRDMAX	0x37ffffff	/* initramfs ends below (initrd_addr_max) */
#define MMIOBASE	0xd0000000	/* virtio-mmio device n at MMIOBASE + n * MMIOSIZE */
#define MMIOSIZE	0x1000
#define MMIOGSI		5	/* device n interrupts on GSI MMIOGSI + n */
#define NGSI		24	/* IOAPIC pins */
#define SERIALPORT	0x3f8	/* COM1, */
#define SERIALIRQ	4	/* on IRQ 4 */
#define IOAPICADDR	0xfec00000
#define LAPICADDR	0xfee00000
#define IDMAPADDR	0xfffbc000	/* KVM's identity map page (Intel), */
#define TSSADDR		0xfffbd000	/* and its three TSS pages */
#define MAXMEM		((uint64_t)VM_MAXMEMMIB << 20)	/* husk.h */
#define MINMEM		(16ull << 20)
#define MAXDEVS		(NGSI - MMIOGSI)
/* the MP table must fit between EBDAADDR and EBDAEND */
#define MPSIZE(ncpus)	(16 + 44 + (ncpus) * 20 + 8 + 8 + NGSI * 8 + 2 * 8)
#define MAXCPUS		VM_MAXCPUS	/* husk.h */
#define KERNELMAP	0xffffffff80000000ull	/* __START_KERNEL_map */
#define CONSOLETAIL	4096
#define E820RAM		1	/* e820 entry types */
#define E820RESERVED	2

/* the map must not overlap itself */
typedef char mapcheck[GDTADDR + 4 * 8 <= IDTADDR && IDTADDR + 8 <= ZEROPAGE &&
    PDADDR + 4 * 4096 <= CMDLINEADDR &&
    ZEROPAGE + 4096 <= BOOTSTACK - 256 && BOOTSTACK < PML4ADDR &&
    CMDLINEADDR + CMDLINEMAX <= EBDAADDR && MAXMEM <= MMIOBASE &&
    MPSIZE(MAXCPUS) <= EBDAEND - EBDAADDR &&
    MMIOBASE + MAXDEVS * MMIOSIZE <= IOAPICADDR &&
    IDMAPADDR >= LAPICADDR + 0x1000 ? 1 : -1];

typedef struct Vcpu Vcpu;
struct Vcpu {
	Vm *vm;
	int id, fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
};

struct Vm {
	int kvm, fd;
	GuestMem mem;
	int ncpus;
	Vcpu *cpus;
	size_t runsize;
	uint64_t entry, kernelend;
	VmConfig cfg;		/* initrd is read by vmm_start only */
	struct kvm_cpuid2 *cpuid;	/* what KVM supports, patched per vCPU */
	int tscdeadline;	/* KVM emulates the TSC-deadline timer */
	char cmdline[CMDLINEMAX];
	VirtioDev *devs[MAXDEVS];
	int ndevs;
	int exitfd;
	int started;		/* vmm_start ran */
	pthread_mutex_t lock;	/* state, why, the serial port, the console tail, Vcpu.started */
	int state, stopping;
	char why[ERRLEN];
	/* 8250 UART */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	int thri;		/* transmitter empty interrupt pending */
	char line[256];		/* the console line being printed */
	size_t linelen;
	char tail[CONSOLETAIL];	/* ring of the last console output */
	size_t tailpos, taillen;
	char tailout[4 * CONSOLETAIL + 1];	/* escaped: the guest wrote it */
};

static const struct {
	int cap;
	const char *name;
} caps[] = {
	/* capability               what husk needs it for */
	{ KVM_CAP_IRQCHIP,          "KVM_CAP_IRQCHIP (in-kernel interrupt controllers)" },
	{ KVM_CAP_HLT,              "KVM_CAP_HLT" },
	{ KVM_CAP_USER_MEMORY,      "KVM_CAP_USER_MEMORY (guest RAM)" },
	{ KVM_CAP_SET_TSS_ADDR,     "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
	{ KVM_CAP_EXT_CPUID,        "KVM_CAP_EXT_CPUID (CPUID for the guest)" },
	{ KVM_CAP_IRQFD,            "KVM_CAP_IRQFD (device interrupts)" },
	{ KVM_CAP_IOEVENTFD,        "KVM_CAP_IOEVENTFD (queue notifications)" },
	{ KVM_CAP_PIT2,             "KVM_CAP_PIT2 (in-kernel timer)" },
	{ KVM_CAP_IRQ_ROUTING,      "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IMMEDIATE_EXIT,   "KVM_CAP_IMMEDIATE_EXIT (stopping vCPUs)" },
	{ KVM_CAP_MP_STATE,         "KVM_CAP_MP_STATE" },
};

/* musl's ioctl takes an int request: _IOR numbers pass through here */
static int
ioctlr(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static void
kick(int sig)
{
	(void)sig;
}

/* the first caller decides how the VM ended; every vCPU is kicked out of KVM_RUN */
static void
stopvm(Vm *vm, int state, const char *fmt, ...)
{
	va_list ap;
	uint64_t one = 1;
	int i;

	pthread_mutex_lock(&vm->lock);
	if (vm->stopping) {
		pthread_mutex_unlock(&vm->lock);
		return;
	}
	if (vm->state == VM_CRASH) {	/* a panic was seen: keep its line */
		state = VM_CRASH;
	} else {
		va_start(ap, fmt);
		vsnprintf(vm->why, sizeof(vm->why), fmt, ap);
		va_end(ap);
	}
	vm->state = state;
	__atomic_store_n(&vm->stopping, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < vm->ncpus; i++) {
		if (!vm->cpus[i].run)
			continue;
		/* immediate_exit covers a vCPU between two KVM_RUNs, the signal one inside */
		__atomic_store_n(&vm->cpus[i].run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (vm->cpus[i].started && !pthread_equal(vm->cpus[i].thread,
		    pthread_self()))
			pthread_kill(vm->cpus[i].thread, SIGUSR1);
	}
	pthread_mutex_unlock(&vm->lock);
	if (vm->exitfd >= 0 && write(vm->exitfd, &one, sizeof(one)) < 0)
		warn("exit eventfd:");
}

/*
 * Some cloud VMs offer a /dev/kvm backed by PVM (the kvm_pvm module):
 * without vmx or svm it runs only guests built for PVM, and husk's guest
 * would fail late and obscurely (an internal error after seconds of
 * emulated boot, or an agent that never answers). Known at once from the
 * module, or from a CPU that shows neither flag.
 */
static int
pvmhost(void)
{
	char buf[8192], *p, *end;
	ssize_t n;
	int fd, found = 0;

	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return 1;
	if ((fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;	/* no /proc: let KVM's own checks speak */
	n = readall(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (!(p = strstr(buf, "\nflags")) || !(end = strchr(p + 1, '\n')))
		return 0;
	*end = '\0';
	for (p = strtok(p, " \t\n:"); p; p = strtok(NULL, " \t\n"))
		if (!strcmp(p, "vmx") || !strcmp(p, "svm"))
			found = 1;
	return !found;
}

/* vm->lock held: keep the byte in the tail, watch the lines for a panic */
static void
consoleput(Vm *vm, uint8_t c)
{
	char *p;

	vm->tail[vm->tailpos] = c;
	vm->tailpos = (vm->tailpos + 1) % CONSOLETAIL;
	if (vm->taillen < CONSOLETAIL)
		vm->taillen++;
	if (c == '\r')
		return;
	if (c != '\n' && vm->linelen < sizeof(vm->line) - 1) {
		vm->line[vm->linelen++] = c;
		return;
	}
	vm->line[vm->linelen] = '\0';
	if (vm->state != VM_CRASH && (p = strstr(vm->line, "Kernel panic"))) {
		char esc[sizeof(vm->why)];

		vm->state = VM_CRASH;
		snprintf(vm->why, sizeof(vm->why), "guest kernel panic: %s",
		    escape(esc, sizeof(esc), p, strlen(p)));
	}
	vm->linelen = 0;
	if (c != '\n')		/* a long line: go on with its rest */
		vm->line[vm->linelen++] = c;
}

/* outside vm->lock: a slow console stalls only this vCPU, never the loop */
static void
consolewrite(Vm *vm, uint8_t c)
{
	while (write(vm->cfg.consolefd, &c, 1) < 0 && errno == EINTR &&
	    !__atomic_load_n(&vm->stopping, __ATOMIC_SEQ_CST))
		;
}

const char *
vmm_console(Vm *vm)
{
	char raw[CONSOLETAIL];
	size_t i, start, o = 0, line = 0;

	pthread_mutex_lock(&vm->lock);
	start = (vm->tailpos + CONSOLETAIL - vm->taillen) % CONSOLETAIL;
	for (i = 0; i < vm->taillen; i++)
		raw[i] = vm->tail[(start + i) % CONSOLETAIL];
	/* line by line, every byte but the line ends escaped */
	for (i = 0; i <= vm->taillen; i++) {
		if (i < vm->taillen && raw[i] != '\n')
			continue;
		escape(vm->tailout + o, sizeof(vm->tailout) - o, raw + line,
		    i - line - (i > line && raw[i - 1] == '\r'));
		o += strlen(vm->tailout + o);
		if (i < vm->taillen && o + 1 < sizeof(vm->tailout))
			vm->tailout[o++] = '\n';
		line = i + 1;
	}
	vm->tailout[o] = '\0';
	pthread_mutex_unlock(&vm->lock);
	return vm->tailout;
}

/* the UART's interrupt: an edge when the transmitter empties with THRI enabled */
static void
serialirq(Vm *vm)
{
	struct kvm_irq_level irq;

	if (!(vm->thri && (vm->ier & 0x02)))
		return;
	irq.irq = SERIALIRQ;
	irq.level = 1;
	ioctl(vm->fd, KVM_IRQ_LINE, &irq);
	irq.level = 0;
	ioctl(vm->fd, KVM_IRQ_LINE, &irq);
}

/*
 * A 16550A that transmits at once and never receives: enough for the
 * kernel's 8250 driver and console. Returns 1 when *v is a byte to print.
 */
static int
serial(Vm *vm, unsigned off, uint8_t *v, int out)
{
	int dlab = vm->lcr & 0x80, print = 0;

	pthread_mutex_lock(&vm->lock);
	if (out) {
		switch (off) {
		case 0:
			if (dlab) {
				vm->dll = *v;
			} else {
				consoleput(vm, *v);
				print = 1;
				vm->thri = 1;
			}
			break;
		case 1:
			if (dlab) {
				vm->dlm = *v;
			} else {
				vm->ier = *v & 0x0f;
				vm->thri = !!(vm->ier & 0x02);
			}
			break;
		case 2: vm->fcr = *v; break;
		case 3: vm->lcr = *v; break;
		case 4: vm->mcr = *v & 0x1f; break;
		case 7: vm->scr = *v; break;
		}
		serialirq(vm);
	} else {
		switch (off) {
		case 0: *v = dlab ? vm->dll : 0; break;	/* RBR: nothing received */
		case 1: *v = dlab ? vm->dlm : vm->ier; break;
		case 2:				/* IIR */
			if (vm->thri && (vm->ier & 0x02)) {
				*v = 0x02;	/* THR empty */
				vm->thri = 0;
			} else {
				*v = 0x01;	/* no interrupt */
			}
			if (vm->fcr & 0x01)
				*v |= 0xc0;	/* FIFOs enabled */
			break;
		case 3: *v = vm->lcr; break;
		case 4: *v = vm->mcr; break;
		case 5: *v = 0x60; break;	/* LSR: THR empty, transmitter empty */
		case 6:				/* MSR */
			if (vm->mcr & 0x10)	/* loopback: outputs come back */
				*v = (vm->mcr & 0x01) << 5 | (vm->mcr & 0x02) << 3 |
				    (vm->mcr & 0x04) << 4 | (vm->mcr & 0x08) << 4;
			else
				*v = 0xb0;	/* DCD, DSR, CTS */
			break;
		case 7: *v = vm->scr; break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return print && vm->cfg.consolefd >= 0;
}

/*
 * Port I/O. Besides the UART, only the i8042's reset line: a write of
 * 0xfe to port 0x64 resets the machine. Every other port, the i8042's
 * included, reads as nothing there (all ones): the kernel's i8042
 * driver then gives up at once ("No controller found") where a status
 * of 0 would cost it a 500 ms time-out on each boot; PCI configuration
 * reads (0xcf8/0xcfc) find no bus.
 */
static void
pio(Vcpu *c)
{
	struct kvm_run *run = c->run;
	Vm *vm = c->vm;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;
	int out = run->io.direction == KVM_EXIT_IO_OUT;
	uint16_t port = run->io.port;
	uint32_t i;

	if (run->io.data_offset > vm->runsize || (uint64_t)run->io.size *
	    run->io.count > vm->runsize - run->io.data_offset)
		return;
	for (i = 0; i < run->io.count; i++, p += run->io.size) {
		if (port >= SERIALPORT && port < SERIALPORT + 8 && run->io.size == 1) {
			if (serial(vm, port - SERIALPORT, p, out))
				consolewrite(vm, *p);
		} else if (port == 0x64 && out && *p == 0xfe) {
			stopvm(vm, VM_RESET, "the guest reset the machine (i8042)");
		} else if (!out) {
			memset(p, 0xff, run->io.size);
		}
	}
}

/* MMIO exits: the virtio-mmio registers; elsewhere reads 0, writes vanish */
static void
mmio(Vcpu *c)
{
	struct kvm_run *run = c->run;
	Vm *vm = c->vm;
	uint64_t a = run->mmio.phys_addr, n;
	uint32_t len = run->mmio.len;

	if (len > sizeof(run->mmio.data))
		return;
	if (a >= MMIOBASE && (n = (a - MMIOBASE) / MMIOSIZE) < (uint64_t)vm->ndevs) {
		virtio_mmio(vm->devs[n], a - vm->devs[n]->base, run->mmio.data,
		    len, run->mmio.is_write);
		return;
	}
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0, len);
}

static void *
vcpuloop(void *arg)
{
	Vcpu *c = arg;
	Vm *vm = c->vm;
	struct kvm_run *run = c->run;
	char err[ERRLEN];

	/* confined before the guest runs a single instruction */
	if (sc_husk(SC_VCPU, err) < 0) {
		stopvm(vm, VM_ERROR, "vCPU %d: %s", c->id, err);
		return NULL;
	}
	while (!__atomic_load_n(&vm->stopping, __ATOMIC_SEQ_CST)) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			stopvm(vm, VM_ERROR, "vCPU %d: KVM_RUN: %s", c->id,
			    strerror(errno));
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			pio(c);
			break;
		case KVM_EXIT_MMIO:
			mmio(c);
			break;
		case KVM_EXIT_SHUTDOWN:
			stopvm(vm, VM_RESET, "the guest reset the machine (triple fault)");
			break;
		case KVM_EXIT_HLT:
			stopvm(vm, VM_POWEROFF, "the guest halted");
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			switch (run->system_event.type) {
			case KVM_SYSTEM_EVENT_SHUTDOWN:
				stopvm(vm, VM_POWEROFF, "the guest powered off");
				break;
			case KVM_SYSTEM_EVENT_RESET:
				stopvm(vm, VM_RESET, "the guest reset the machine");
				break;
			default:
				stopvm(vm, VM_CRASH, "the guest crashed (system event %u)",
				    run->system_event.type);
			}
			break;
		case KVM_EXIT_FAIL_ENTRY:
			stopvm(vm, VM_ERROR, "vCPU %d: entry failed, reason 0x%llx",
			    c->id, (unsigned long long)
			    run->fail_entry.hardware_entry_failure_reason);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			stopvm(vm, VM_ERROR, "vCPU %d: KVM internal error %u",
			    c->id, run->internal.suberror);
			break;
		default:
			stopvm(vm, VM_ERROR, "vCPU %d: unhandled exit %u", c->id,
			    run->exit_reason);
		}
	}
	return NULL;
}

/* n bytes at off, or -1 (errno 0 when the file is shorter) */
static int
preadall(int fd, void *buf, uint64_t n, uint64_t off)
{
	ssize_t r;

	while (n > 0) {
		r = pread(fd, buf, MIN(n, 1 << 30), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		buf = (char *)buf + r;
		n -= r;
		off += r;
	}
	return 0;
}

/*
 * Load a vmlinux. The file is input like any other: every header and
 * segment is checked against the file and guest RAM before a byte is
 * copied, and the entry point must lie in what was loaded.
 */
static int
loadkernel(Vm *vm, const char *path, char *err)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	struct stat st;
	uint64_t end = 0, sz, entry;
	int fd, i, ok = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		seterr(err, "kernel %s:", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || preadall(fd, &eh, sizeof(eh), 0) < 0) {
		seterr(err, "kernel %s: not an ELF vmlinux (too short)", path);
		goto fail;
	}
	sz = st.st_size;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC) {
		seterr(err, "kernel %s: not an x86-64 ELF vmlinux (a bzImage "
		    "will not do: pass the uncompressed vmlinux)", path);
		goto fail;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > LEN(ph) || eh.e_phoff > sz ||
	    sz - eh.e_phoff < (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) ||
	    preadall(fd, ph, eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff) < 0) {
		seterr(err, "kernel %s: bad ELF program headers", path);
		goto fail;
	}
	entry = eh.e_entry >= KERNELMAP ? eh.e_entry - KERNELMAP : eh.e_entry;
	for (i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_filesz > ph[i].p_memsz || ph[i].p_offset > sz ||
		    sz - ph[i].p_offset < ph[i].p_filesz ||
		    ph[i].p_paddr < HIMEM ||
		    !gm_ptr(&vm->mem, ph[i].p_paddr, ph[i].p_memsz)) {
			seterr(err, "kernel %s: ELF segment %d (0x%llx, %llu bytes) "
			    "does not fit the file or %llu MiB of guest RAM", path,
			    i, (unsigned long long)ph[i].p_paddr,
			    (unsigned long long)ph[i].p_memsz,
			    (unsigned long long)(vm->mem.size >> 20));
			goto fail;
		}
		if (preadall(fd, vm->mem.base + ph[i].p_paddr, ph[i].p_filesz,
		    ph[i].p_offset) < 0) {
			if (errno)
				seterr(err, "kernel %s: read:", path);
			else
				seterr(err, "kernel %s: the file shrank while loading", path);
			goto fail;
		}
		if (entry >= ph[i].p_paddr && entry - ph[i].p_paddr < ph[i].p_memsz)
			ok = 1;
		end = MAX(end, ph[i].p_paddr + ph[i].p_memsz);
	}
	if (!ok) {
		seterr(err, "kernel %s: ELF entry 0x%llx is in no loaded segment",
		    path, (unsigned long long)eh.e_entry);
		goto fail;
	}
	vm->entry = entry;
	vm->kernelend = end;
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/* what KVM can offer the guest; vmm_start patches a copy per vCPU */
static struct kvm_cpuid2 *
supportedcpuid(int kvm, char *err)
{
	struct kvm_cpuid2 *cpuid;
	int n;

	for (n = 64; n <= 4096; n *= 2) {
		cpuid = ecalloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
		cpuid->nent = n;
		if (ioctlr(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			return cpuid;
		free(cpuid);
		if (errno != E2BIG)
			break;
	}
	seterr(err, "KVM_GET_SUPPORTED_CPUID:");
	return NULL;
}

/*
 * Guest RAM, 2 MiB aligned so that, when asked, transparent huge pages
 * can back it: a nested or busy host then takes one fault per 2 MiB the
 * guest touches instead of 512 (qemu does the same). Pages the guest
 * never touches cost nothing either way.
 */
static int
mapram(Vm *vm, int huge)
{
	uint8_t *p;
	size_t slack = 2 << 20, head;

	p = mmap(NULL, vm->mem.size + slack, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	head = (slack - (uintptr_t)p % slack) % slack;
	if (head)
		munmap(p, head);
	munmap(p + head + vm->mem.size, slack - head);
	vm->mem.base = p + head;
	/* no core dump holds the guest's memory */
	if (madvise(vm->mem.base, vm->mem.size, MADV_DONTDUMP) < 0)
		warn("guest RAM: MADV_DONTDUMP:");
	if (huge)
		madvise(vm->mem.base, vm->mem.size, MADV_HUGEPAGE);
	return 0;
}

Vm *
vmm_new(const VmConfig *cfg, char *err)
{
	struct kvm_userspace_memory_region region;
	struct kvm_pit_config pit;
	struct sigaction sa;
	uint64_t idmap = IDMAPADDR;
	Vm *vm;
	size_t i;
	int r, n;

	if (cfg->ncpus < 1 || cfg->ncpus > (int)MAXCPUS) {
		seterr(err, "%d vCPUs: husk supports 1 to %d", cfg->ncpus,
		    (int)MAXCPUS);
		return NULL;
	}
	if (cfg->memmib < MINMEM >> 20 || cfg->memmib > MAXMEM >> 20) {
		seterr(err, "%llu MiB of guest memory: husk supports %llu to %llu "
		    "MiB (RAM stays below the devices at 0x%x)",
		    (unsigned long long)cfg->memmib, MINMEM >> 20, MAXMEM >> 20,
		    MMIOBASE);
		return NULL;
	}
	if (strlen(cfg->cmdline) >= CMDLINEMAX) {
		seterr(err, "kernel command line: %zu bytes, the kernel takes %d",
		    strlen(cfg->cmdline), CMDLINEMAX - 1);
		return NULL;
	}
	vm = ecalloc(1, sizeof(*vm));
	vm->cfg = *cfg;
	vm->kvm = vm->fd = vm->exitfd = -1;
	vm->mem.base = MAP_FAILED;
	vm->ncpus = cfg->ncpus;
	vm->cpus = ecalloc(cfg->ncpus, sizeof(*vm->cpus));
	for (n = 0; n < vm->ncpus; n++)
		vm->cpus[n].fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	snprintf(vm->cmdline, sizeof(vm->cmdline), "%s", cfg->cmdline);

	/* KVM and what husk needs of it */
	if ((vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) {
		seterr(err, "/dev/kvm: %s (is the kvm module loaded? husk needs KVM)",
		    strerror(errno));
		goto fail;
	}
	if (pvmhost()) {
		seterr(err, "/dev/kvm is PVM's (module kvm_pvm, or no vmx/svm on "
		    "this CPU): it runs only PVM-aware guest kernels, not husk's. "
		    "Run husk on a host with hardware virtualization (vmx or svm, "
		    "nested virtualization enabled in a VM); to test, test/host/run");
		goto fail;
	}
	if ((r = ioctl(vm->kvm, KVM_GET_API_VERSION, 0)) != KVM_API_VERSION) {
		seterr(err, "/dev/kvm: API version %d, husk needs %d", r,
		    KVM_API_VERSION);
		goto fail;
	}
	for (i = 0; i < LEN(caps); i++) {
		if (ioctl(vm->kvm, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			seterr(err, "/dev/kvm: this kernel's KVM lacks %s; husk "
			    "needs Linux 4.11 or later on x86-64", caps[i].name);
			goto fail;
		}
	}
	if (!(vm->cpuid = supportedcpuid(vm->kvm, err)))
		goto fail;
	vm->tscdeadline = ioctl(vm->kvm, KVM_CHECK_EXTENSION,
	    KVM_CAP_TSC_DEADLINE_TIMER) > 0;

	/* the VM: the interrupt controllers and the timer live in the kernel */
	if ((vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0)) < 0) {
		seterr(err, "KVM_CREATE_VM:");
		goto fail;
	}
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)TSSADDR) < 0) {
		seterr(err, "KVM_SET_TSS_ADDR:");
		goto fail;
	}
	if (ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		seterr(err, "KVM_SET_IDENTITY_MAP_ADDR:");
		goto fail;
	}
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		seterr(err, "KVM_CREATE_IRQCHIP:");
		goto fail;
	}
	memset(&pit, 0, sizeof(pit));
	pit.flags = KVM_PIT_SPEAKER_DUMMY;
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0) {
		seterr(err, "KVM_CREATE_PIT2:");
		goto fail;
	}

	/*
	 * Guest RAM: one slot from 0, touched pages only. No KSM
	 * (MADV_MERGEABLE): pages shared between sandboxes of different
	 * tenants leak through copy-on-write timing.
	 */
	vm->mem.size = cfg->memmib << 20;
	if (mapram(vm, cfg->hugepages) < 0) {
		seterr(err, "guest memory (%llu MiB):",
		    (unsigned long long)cfg->memmib);
		goto fail;
	}
	memset(&region, 0, sizeof(region));
	region.memory_size = vm->mem.size;
	region.userspace_addr = (uintptr_t)vm->mem.base;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		seterr(err, "KVM_SET_USER_MEMORY_REGION:");
		goto fail;
	}
	if (loadkernel(vm, cfg->kernel, err) < 0)
		goto fail;

	/* the vCPUs, each with its shared kvm_run page */
	if ((r = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) < (int)sizeof(struct kvm_run)) {
		seterr(err, "KVM_GET_VCPU_MMAP_SIZE:");
		goto fail;
	}
	vm->runsize = r;
	for (n = 0; n < vm->ncpus; n++) {
		vm->cpus[n].vm = vm;
		vm->cpus[n].id = n;
		if ((vm->cpus[n].fd = ioctl(vm->fd, KVM_CREATE_VCPU, n)) < 0) {
			seterr(err, "KVM_CREATE_VCPU %d:", n);
			goto fail;
		}
		vm->cpus[n].run = mmap(NULL, vm->runsize, PROT_READ | PROT_WRITE,
		    MAP_SHARED, vm->cpus[n].fd, 0);
		if (vm->cpus[n].run == MAP_FAILED) {
			vm->cpus[n].run = NULL;
			seterr(err, "vCPU %d: mmap kvm_run:", n);
			goto fail;
		}
	}
	if ((vm->exitfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		seterr(err, "eventfd:");
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick;	/* no SA_RESTART: KVM_RUN returns EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0) {
		seterr(err, "sigaction SIGUSR1:");
		goto fail;
	}
	return vm;
fail:
	vmm_free(vm);
	return NULL;
}

const GuestMem *
vmm_mem(Vm *vm)
{
	return &vm->mem;
}

int
vmm_add_device(Vm *vm, VirtioDev *d, char *err)
{
	struct kvm_irqfd irqfd;
	struct kvm_ioeventfd io;
	size_t n;
	int q;

	if (vm->started) {
		seterr(err, "%s: devices are added before the VM starts",
		    d->ops->name);
		return -1;
	}
	if (vm->ndevs == MAXDEVS) {
		seterr(err, "%s: no room for more than %d devices", d->ops->name,
		    MAXDEVS);
		return -1;
	}
	d->base = MMIOBASE + (uint64_t)vm->ndevs * MMIOSIZE;
	d->gsi = MMIOGSI + vm->ndevs;
	n = strlen(vm->cmdline);
	if ((size_t)snprintf(vm->cmdline + n, sizeof(vm->cmdline) - n,
	    " virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)d->base,
	    d->gsi) >= sizeof(vm->cmdline) - n) {
		vm->cmdline[n] = '\0';
		seterr(err, "%s: the kernel command line would pass %d bytes",
		    d->ops->name, CMDLINEMAX - 1);
		return -1;
	}
	memset(&irqfd, 0, sizeof(irqfd));
	irqfd.fd = d->irqfd;
	irqfd.gsi = d->gsi;
	if (ioctl(vm->fd, KVM_IRQFD, &irqfd) < 0) {
		seterr(err, "%s: KVM_IRQFD:", d->ops->name);
		goto fail;
	}
	/* a write of queue q's index to QueueNotify signals its kickfd in the kernel */
	memset(&io, 0, sizeof(io));
	io.addr = d->base + 0x50;
	io.len = 4;
	io.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
	for (q = 0; q < d->ops->nqueues; q++) {
		io.datamatch = q;
		io.fd = d->vq[q].kickfd;
		if (ioctl(vm->fd, KVM_IOEVENTFD, &io) < 0) {
			seterr(err, "%s: KVM_IOEVENTFD:", d->ops->name);
			goto undo;
		}
	}
	vm->devs[vm->ndevs++] = d;
	return 0;
undo:
	io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	while (q-- > 0) {
		io.datamatch = q;
		io.fd = d->vq[q].kickfd;
		ioctl(vm->fd, KVM_IOEVENTFD, &io);
	}
	irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	ioctl(vm->fd, KVM_IRQFD, &irqfd);
fail:
	vm->cmdline[n] = '\0';
	return -1;
}

static void
e820(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

static uint8_t
checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return -s;
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/*
 * The Intel MultiProcessor Specification 1.4 tables, how a kernel
 * without ACPI finds the vCPUs and the IOAPIC: a floating pointer in the
 * last KiB of base memory, then the configuration table with one entry
 * per vCPU, the ISA bus, the IOAPIC, an interrupt entry per IOAPIC pin
 * (ISA IRQ n on pin n, as KVM's default routing has it; the virtio-mmio
 * GSIs above 15 ride along) and LINT0/LINT1 of every local APIC.
 */
static void
mptable(Vm *vm)
{
	uint8_t *fp = vm->mem.base + EBDAADDR, *cfg = fp + 16, *p;
	uint32_t sig = 0x600, feat = 0x201;	/* family 6; FPU, APIC */
	uint16_t n = 0;
	uint32_t i;
	int ioapic = vm->ncpus;		/* the id after the vCPUs' */

	for (i = 0; i < vm->cpuid->nent; i++) {
		if (vm->cpuid->entries[i].function == 1) {
			sig = vm->cpuid->entries[i].eax;
			feat = vm->cpuid->entries[i].edx;
		}
	}
	memset(fp, 0, EBDAEND - EBDAADDR);
	memcpy(fp, "_MP_", 4);
	put32(fp + 4, EBDAADDR + 16);	/* the configuration table */
	fp[8] = 1;			/* length in 16-byte units */
	fp[9] = 4;			/* spec 1.4; feature bytes 0: a table follows */
	fp[10] = checksum(fp, 16);

	memcpy(cfg, "PCMP", 4);
	cfg[6] = 4;			/* spec 1.4 */
	memcpy(cfg + 8, "HUSK    ", 8);	/* OEM id */
	memcpy(cfg + 16, "MICROVM     ", 12);	/* product id */
	put32(cfg + 36, LAPICADDR);
	p = cfg + 44;
	for (i = 0; i < (uint32_t)vm->ncpus; i++, n++, p += 20) {
		p[0] = 0;		/* processor */
		p[1] = i;		/* local APIC id */
		p[2] = 0x14;		/* local APIC version (KVM's) */
		p[3] = 1 | (i == 0 ? 2 : 0);	/* enabled, bootstrap */
		put32(p + 4, sig);
		put32(p + 8, feat);
	}
	p[0] = 1;			/* bus 0 */
	memcpy(p + 2, "ISA   ", 6);
	p += 8, n++;
	p[0] = 2;			/* the IOAPIC */
	p[1] = ioapic;
	p[2] = 0x11;			/* version (KVM's) */
	p[3] = 1;			/* enabled */
	put32(p + 4, IOAPICADDR);
	p += 8, n++;
	for (i = 0; i < NGSI; i++, n++, p += 8) {
		p[0] = 3;		/* I/O interrupt */
		p[1] = 0;		/* vectored (INT) */
		put16(p + 2, 0);	/* polarity and trigger as the bus has them */
		p[4] = 0;		/* from bus 0, */
		p[5] = i;		/* IRQ i, */
		p[6] = ioapic;		/* to the IOAPIC's */
		p[7] = i;		/* pin i */
	}
	for (i = 0; i < 2; i++, n++, p += 8) {
		p[0] = 4;		/* local interrupt */
		p[1] = i == 0 ? 3 : 1;	/* LINT0 ExtINT (the PIC), LINT1 NMI */
		p[4] = 0;
		p[5] = 0;
		p[6] = 0xff;		/* every local APIC */
		p[7] = i;
	}
	put16(cfg + 4, p - cfg);	/* base table length */
	put16(cfg + 34, n);		/* entry count */
	cfg[7] = checksum(cfg, p - cfg);
}

/*
 * KVM's CPUID with this vCPU's APIC id, the hypervisor bit and KVM's
 * paravirtual leaves (0x40000000: kvm-clock, PV EOI...) kept. The
 * TSC-deadline timer is emulated by the in-kernel local APIC but left
 * out of what KVM reports: offered, it spares the guest the calibration
 * of its APIC timer against the PIT (100 ms of boot).
 */
static int
setupcpuid(Vm *vm, Vcpu *c, char *err)
{
	struct kvm_cpuid2 *cpuid;
	struct kvm_cpuid_entry2 *e;
	size_t sz;
	uint32_t i;
	int r;

	sz = sizeof(*cpuid) + vm->cpuid->nent * sizeof(*e);
	cpuid = emalloc(sz);
	memcpy(cpuid, vm->cpuid, sz);
	for (i = 0; i < cpuid->nent; i++) {
		e = &cpuid->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x00ffffff) | (uint32_t)c->id << 24;
			e->ecx |= 1u << 31;	/* running on a hypervisor */
			if (vm->tscdeadline)
				e->ecx |= 1u << 24;
			break;
		case 0xb:
		case 0x1f:
			e->edx = c->id;		/* x2APIC id */
			break;
		}
	}
	if ((r = ioctl(c->fd, KVM_SET_CPUID2, cpuid)) < 0)
		seterr(err, "vCPU %d: KVM_SET_CPUID2:", c->id);
	free(cpuid);
	return r < 0 ? -1 : 0;
}

static int
setupcpu(Vm *vm, Vcpu *c, char *err)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} msrs[] = {
		/* MSR        value */
		{ 0x174,      0 },		/* SYSENTER_CS */
		{ 0x175,      0 },		/* SYSENTER_ESP */
		{ 0x176,      0 },		/* SYSENTER_EIP */
		{ 0xc0000081, 0 },		/* STAR */
		{ 0xc0000082, 0 },		/* LSTAR */
		{ 0xc0000083, 0 },		/* CSTAR */
		{ 0xc0000084, 0 },		/* SYSCALL_MASK */
		{ 0xc0000102, 0 },		/* KERNEL_GS_BASE */
		{ 0x10,       0 },		/* TSC */
		{ 0x1a0,      1 },		/* MISC_ENABLE: fast strings */
		{ 0x2ff,      1 << 11 | 6 },	/* MTRRdefType: enabled, write-back */
	};
	union {			/* kvm_msrs ends in a flexible array */
		struct kvm_msrs h;
		uint8_t b[sizeof(struct kvm_msrs) + LEN(msrs) *
		    sizeof(struct kvm_msr_entry)];
	} m;
	struct kvm_lapic_state lapic;
	struct kvm_fpu fpu;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment code, data, tss;
	uint32_t lvt;
	size_t i;

	if (setupcpuid(vm, c, err) < 0)
		return -1;
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = LEN(msrs);
	for (i = 0; i < LEN(msrs); i++) {
		m.h.entries[i].index = msrs[i].index;
		m.h.entries[i].data = msrs[i].data;
	}
	if (ioctl(c->fd, KVM_SET_MSRS, &m) != (int)LEN(msrs)) {
		seterr(err, "vCPU %d: KVM_SET_MSRS:", c->id);
		return -1;
	}
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(c->fd, KVM_SET_FPU, &fpu) < 0) {
		seterr(err, "vCPU %d: KVM_SET_FPU:", c->id);
		return -1;
	}
	/* LINT0 delivers the PIC's ExtINT, LINT1 NMIs: delivery mode, bits 8-10 */
	if (ioctlr(c->fd, KVM_GET_LAPIC, &lapic) < 0) {
		seterr(err, "vCPU %d: KVM_GET_LAPIC:", c->id);
		return -1;
	}
	memcpy(&lvt, lapic.regs + 0x350, 4);
	lvt = (lvt & ~0x700u) | 7 << 8;
	memcpy(lapic.regs + 0x350, &lvt, 4);
	memcpy(&lvt, lapic.regs + 0x360, 4);
	lvt = (lvt & ~0x700u) | 4 << 8;
	memcpy(lapic.regs + 0x360, &lvt, 4);
	if (ioctl(c->fd, KVM_SET_LAPIC, &lapic) < 0) {
		seterr(err, "vCPU %d: KVM_SET_LAPIC:", c->id);
		return -1;
	}
	if (c->id != 0)
		return 0;	/* the APs wait for the kernel's INIT and SIPI */

	/* the bootstrap vCPU enters startup_64 in long mode, flat segments from the GDT */
	if (ioctlr(c->fd, KVM_GET_SREGS, &sregs) < 0) {
		seterr(err, "KVM_GET_SREGS:");
		return -1;
	}
	memset(&code, 0, sizeof(code));
	code.limit = 0xfffff;
	code.selector = 0x8;
	code.type = 0xb;	/* execute/read, accessed */
	code.present = 1;
	code.s = 1;
	code.l = 1;
	code.g = 1;
	data = code;
	data.selector = 0x10;
	data.type = 0x3;	/* read/write, accessed */
	data.l = 0;
	data.db = 1;
	tss = code;
	tss.selector = 0x18;
	tss.s = 0;		/* system: busy 64-bit TSS */
	tss.l = 0;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	sregs.gdt.base = GDTADDR;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = IDTADDR;	/* empty: any fault before the kernel's own IDT ends the VM */
	sregs.idt.limit = 7;
	sregs.cr3 = PML4ADDR;
	sregs.cr4 = 0x20;			/* PAE */
	sregs.cr0 = 0x80000000 | 0x10 | 0x1;	/* PG, ET, PE */
	sregs.efer = 0x500;			/* LME, LMA */
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0) {
		seterr(err, "KVM_SET_SREGS:");
		return -1;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2;
	regs.rip = vm->entry;
	regs.rsp = regs.rbp = BOOTSTACK;
	regs.rsi = ZEROPAGE;	/* the 64-bit boot protocol: boot_params in rsi */
	if (ioctl(c->fd, KVM_SET_REGS, &regs) < 0) {
		seterr(err, "KVM_SET_REGS:");
		return -1;
	}
	return 0;
}

/*
 * What the 64-bit boot protocol needs in low memory: a GDT, identity
 * page tables for the first 4 GiB (2 MiB pages), the command line, the
 * initramfs (page-aligned, as high as RAM and initrd_addr_max allow),
 * the zero page with its e820 map, and the MP table.
 */
static int
bootmem(Vm *vm, char *err)
{
	static const uint64_t gdt[] = {
		0,
		0x00af9b000000ffffull,	/* 0x08 code: 64-bit, present, execute/read */
		0x00cf93000000ffffull,	/* 0x10 data: present, read/write */
		0x008f8b000000ffffull,	/* 0x18 TSS */
	};
	struct boot_params *bp;
	uint64_t *pml4, *pdpt, *pd, initrd = 0, top;
	size_t len = vm->cfg.initrdlen;
	int i;

	memcpy(vm->mem.base + GDTADDR, gdt, sizeof(gdt));
	memset(vm->mem.base + IDTADDR, 0, 8);
	pml4 = (uint64_t *)(vm->mem.base + PML4ADDR);
	pdpt = (uint64_t *)(vm->mem.base + PDPTADDR);
	pd = (uint64_t *)(vm->mem.base + PDADDR);
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = PDPTADDR | 3;		/* present, writable */
	for (i = 0; i < 4; i++)
		pdpt[i] = (PDADDR + i * 4096) | 3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = (uint64_t)i << 21 | 0x83;	/* 2 MiB, present, writable */

	memcpy(vm->mem.base + CMDLINEADDR, vm->cmdline, strlen(vm->cmdline) + 1);

	if (len) {
		top = MIN(vm->mem.size, INITRDMAX + 1ull);
		if (len > top || (initrd = (top - len) & ~0xfffull) < vm->kernelend) {
			seterr(err, "initramfs (%zu bytes) does not fit in %llu MiB "
			    "of guest memory above the kernel", len,
			    (unsigned long long)(vm->mem.size >> 20));
			return -1;
		}
		memcpy(vm->mem.base + initrd, vm->cfg.initrd, len);
	}

	bp = (struct boot_params *)(vm->mem.base + ZEROPAGE);
	memset(bp, 0, sizeof(*bp));
	bp->hdr.type_of_loader = 0xff;	/* undefined loader */
	bp->hdr.boot_flag = 0xaa55;
	bp->hdr.header = 0x53726448;	/* "HdrS" */
	bp->hdr.version = 0x020c;
	bp->hdr.loadflags = LOADED_HIGH;	/* KEEP_SEGMENTS is for 32-bit entry */
	bp->hdr.kernel_alignment = 0x1000000;
	bp->hdr.cmd_line_ptr = CMDLINEADDR;
	bp->hdr.cmdline_size = CMDLINEMAX - 1;
	bp->hdr.ramdisk_image = initrd;
	bp->hdr.ramdisk_size = len;
	e820(bp, 0, EBDAADDR, E820RAM);
	e820(bp, EBDAADDR, HIMEM - EBDAADDR, E820RESERVED);
	e820(bp, HIMEM, vm->mem.size - HIMEM, E820RAM);
	mptable(vm);
	return 0;
}

int
vmm_start(Vm *vm, char *err)
{
	sigset_t set, old;
	int i, r = 0;

	if (vm->started) {
		seterr(err, "the VM was started already");
		return -1;
	}
	vm->started = 1;
	if (bootmem(vm, err) < 0)
		return -1;
	for (i = 0; i < vm->ncpus; i++)
		if (setupcpu(vm, &vm->cpus[i], err) < 0)
			return -1;
	/* vCPU threads take only SIGUSR1, the kick; stopvm sees each thread once it exists */
	sigfillset(&set);
	sigdelset(&set, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &set, &old);
	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->ncpus; i++) {
		if ((r = pthread_create(&vm->cpus[i].thread, NULL, vcpuloop,
		    &vm->cpus[i])))
			break;
		vm->cpus[i].started = 1;
	}
	pthread_mutex_unlock(&vm->lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (i < vm->ncpus) {
		errno = r;
		seterr(err, "vCPU %d thread:", i);
		stopvm(vm, VM_ERROR, "could not start vCPU %d", i);
		return -1;
	}
	return 0;
}

int
vmm_exitfd(Vm *vm)
{
	return vm->exitfd;
}

int
vmm_state(Vm *vm, char *why, size_t n)
{
	int st;

	pthread_mutex_lock(&vm->lock);
	st = vm->stopping ? vm->state : VM_RUNNING;
	if (why && n)
		snprintf(why, n, "%s", st == VM_RUNNING ? "running" : vm->why);
	pthread_mutex_unlock(&vm->lock);
	return st;
}

void
vmm_free(Vm *vm)
{
	int i;

	if (!vm)
		return;
	stopvm(vm, VM_POWEROFF, "stopped by husk");
	for (i = 0; i < vm->ncpus; i++) {
		if (vm->cpus[i].started)
			pthread_join(vm->cpus[i].thread, NULL);
		if (vm->cpus[i].run)
			munmap(vm->cpus[i].run, vm->runsize);
		if (vm->cpus[i].fd >= 0)
			close(vm->cpus[i].fd);
	}
	if (vm->mem.base != MAP_FAILED)
		munmap(vm->mem.base, vm->mem.size);
	if (vm->exitfd >= 0)
		close(vm->exitfd);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm >= 0)
		close(vm->kvm);
	pthread_mutex_destroy(&vm->lock);
	free(vm->cpuid);
	free(vm->cpus);
	free(vm);
}
