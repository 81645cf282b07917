# husk - a containerd shim v2 with its own KVM VMM
# See LICENSE file for copyright and license details.
.POSIX:

include config.mk

LIB = util.o proto.o json.o ttrpc.o virtio.o vsock.o rootfs.o virtiofs.o vmm.o seccomp.o \
	netlink.o net.o podnet.o
OBJ = shim.o task.o sandbox.o run.o $(LIB) agent/blob.o
AGENTOBJ = agent/agent.o agent/ctr.o agent/cgroup.o agent/netcfg.o util.o proto.o json.o \
	ttrpc.o seccomp.o netlink.o
UNITS = test/proto_test test/json_test test/ttrpc_test test/virtio_test \
	test/vsock_test test/virtiofs_test test/share_test test/util_test \
	test/seccomp_test test/agent_test \
	test/netlink_test test/net_test test/netcfg_test test/podnet_test
UNITSAN = test/proto_test-san test/json_test-san test/ttrpc_test-san \
	test/virtio_test-san test/vsock_test-san test/virtiofs_test-san \
	test/share_test-san test/util_test-san test/seccomp_test-san \
	test/agent_test-san \
	test/netlink_test-san test/net_test-san test/netcfg_test-san test/podnet_test-san
# tests of task.c link it and sandbox.c with a fake agent
TASKTESTS = test/taskstat_test test/task_test
TASKSAN = test/taskstat_test-san test/task_test-san
TESTS = $(UNITS) $(TASKTESTS)
SANTESTS = $(UNITSAN) $(TASKSAN)

all: husk

config.h:
	cp config.def.h $@

kh:
	mkdir -p kh
	ln -sf /usr/include/linux kh/linux
	ln -sf /usr/include/asm-generic kh/asm-generic
	ln -sf /usr/include/video kh/video
	ln -sf /usr/include/$$(gcc -dumpmachine)/asm kh/asm

$(OBJ) $(AGENTOBJ): config.h config.mk husk.h kh
$(AGENTOBJ): agent/agent.h

# x86-64 syscall names for seccomp.c, from the kernel headers
kh/sysnames.h: kh
	sed -n 's/^#define __NR_\([a-z0-9_]*\)[ 	]*\([0-9][0-9]*\)$$/{ "\1", \2 },/p' \
		kh/asm/unistd_64.h > $@
seccomp.o: kh/sysnames.h

.c.o:
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

agent/husk-agent: $(AGENTOBJ)
	$(CC) -o $@ $(AGENTOBJ) $(LDFLAGS)

agent/blob.o: agent/blob.S agent/husk-agent
	$(CC) -c -o $@ agent/blob.S

husk: $(OBJ)
	$(CC) -o $@ $(OBJ) $(LDFLAGS)

test/proto_test: test/proto_test.c
test/json_test: test/json_test.c
test/virtiofs_test: test/virtiofs_test.c test/guest.h
test/ttrpc_test: test/ttrpc_test.c
test/virtio_test: test/virtio_test.c test/guest.h
test/vsock_test: test/vsock_test.c test/guest.h
test/share_test: test/share_test.c
test/util_test: test/util_test.c
test/seccomp_test: test/seccomp_test.c
test/agent_test: test/agent_test.c agent/cgroup.c agent/agent.h
test/netlink_test: test/netlink_test.c test/netns.h
test/net_test: test/net_test.c test/guest.h
test/netcfg_test: test/netcfg_test.c agent/netcfg.c agent/agent.h
test/podnet_test: test/podnet_test.c test/netns.h
$(UNITS): $(LIB) test/t.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $@.c $(LIB) $(LDFLAGS)
test/taskstat_test: test/taskstat_test.c
test/task_test: test/task_test.c
$(TASKTESTS): task.o sandbox.o $(LIB) test/t.h test/fakeagent.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $@.c task.o sandbox.o $(LIB) $(LDFLAGS)

test/proto_test-san: test/proto_test.c
test/json_test-san: test/json_test.c
test/virtiofs_test-san: test/virtiofs_test.c test/guest.h
test/ttrpc_test-san: test/ttrpc_test.c
test/virtio_test-san: test/virtio_test.c test/guest.h
test/vsock_test-san: test/vsock_test.c test/guest.h
test/share_test-san: test/share_test.c
test/util_test-san: test/util_test.c
test/seccomp_test-san: test/seccomp_test.c
test/agent_test-san: test/agent_test.c agent/cgroup.c agent/agent.h
test/netlink_test-san: test/netlink_test.c test/netns.h
test/net_test-san: test/net_test.c test/guest.h
test/netcfg_test-san: test/netcfg_test.c agent/netcfg.c agent/agent.h
test/podnet_test-san: test/podnet_test.c test/netns.h
$(UNITSAN): $(LIB:.o=.c) husk.h config.h kh kh/sysnames.h test/t.h
	$(SANCC) $(SANFLAGS) -isystem kh -o $@ $(@:-san=).c $(LIB:.o=.c)
test/taskstat_test-san: test/taskstat_test.c
test/task_test-san: test/task_test.c
$(TASKSAN): task.c sandbox.c $(LIB:.o=.c) husk.h config.h kh kh/sysnames.h test/t.h test/fakeagent.h
	$(SANCC) $(SANFLAGS) -isystem kh -o $@ $(@:-san=).c task.c sandbox.c $(LIB:.o=.c)

test/shimctl: test/shimctl.c $(LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ test/shimctl.c $(LIB) $(LDFLAGS)

unit: $(TESTS) $(SANTESTS) test/shimctl

# fuzz targets (test/fuzz/fuzz.h): libFuzzer builds, replayers plain and -san
FUZZ = proto ttrpc oci vsock fuse netlink
FUZZSRC = test/fuzz/proto.c test/fuzz/ttrpc.c test/fuzz/oci.c \
	test/fuzz/vsock.c test/fuzz/fuse.c test/fuzz/fuzz.h test/fuzz/vdrv.h \
	test/fuzz/netlink.c
FUZZBIN = test/fuzz/proto-fuzz test/fuzz/ttrpc-fuzz test/fuzz/oci-fuzz \
	test/fuzz/vsock-fuzz test/fuzz/fuse-fuzz \
	test/fuzz/netlink-fuzz
FUZZREPLAY = test/fuzz/proto-replay test/fuzz/ttrpc-replay \
	test/fuzz/oci-replay test/fuzz/vsock-replay test/fuzz/fuse-replay \
	test/fuzz/netlink-replay
FUZZSAN = test/fuzz/proto-san test/fuzz/ttrpc-san test/fuzz/oci-san \
	test/fuzz/vsock-san test/fuzz/fuse-san \
	test/fuzz/netlink-san
FUZZTIME = 120
FUZZCC = clang
FUZZFLAGS = -DLIBFUZZER -fsanitize=fuzzer $(SANFLAGS)

$(FUZZREPLAY): $(LIB) $(FUZZSRC)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $(@:-replay=).c $(LIB) $(LDFLAGS)
$(FUZZSAN): $(LIB:.o=.c) husk.h config.h kh $(FUZZSRC)
	$(SANCC) $(SANFLAGS) -isystem kh -o $@ $(@:-san=).c $(LIB:.o=.c)
$(FUZZBIN): $(LIB:.o=.c) husk.h config.h kh $(FUZZSRC)
	$(FUZZCC) $(FUZZFLAGS) -isystem kh -o $@ $(@:-fuzz=).c $(LIB:.o=.c)

fuzz-replay: $(FUZZREPLAY) $(FUZZSAN)

# each target for FUZZTIME seconds over its corpus, which it extends
fuzz:
	test/fuzz/deps
	$(MAKE) $(FUZZBIN)
	FUZZTIME=$(FUZZTIME) test/fuzz/run $(FUZZ)

test:
	test/run

bench: husk
	test/cri-deps
	HUSK_KERNEL=$$(kernel/build | tail -n 1) test/host/run \
		sh -c 'test/bench-boot && test/bench-ctr && test/bench-pod && test/bench-net'

kernel:
	kernel/build

clean:
	rm -f husk $(OBJ) $(AGENTOBJ) agent/husk-agent $(TESTS) $(SANTESTS) test/shimctl
	rm -f $(FUZZBIN) $(FUZZREPLAY) $(FUZZSAN)
	rm -rf kh

install: husk
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man1
	cp -f husk $(DESTDIR)$(PREFIX)/bin/containerd-shim-husk-v2
	ln -sf containerd-shim-husk-v2 $(DESTDIR)$(PREFIX)/bin/husk
	sed "s/VERSION/$(VERSION)/g" < husk.1 > $(DESTDIR)$(MANPREFIX)/man1/husk.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/husk $(DESTDIR)$(PREFIX)/bin/containerd-shim-husk-v2
	rm -f $(DESTDIR)$(MANPREFIX)/man1/husk.1

.PHONY: all unit test fuzz fuzz-replay bench kernel clean install uninstall
