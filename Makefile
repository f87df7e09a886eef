# unic - GNU make build.
#   make            library (static + shared), tools, unit tests, guest binaries
#   make check      every test: unit tests (ASan+UBSan), fuzzing, lab scenarios in QEMU
#   make demo       the lab demo: pktgen -> fwd -> pcap across emulated NICs
#   make install PREFIX=/usr/local
# Layout: src/core (DMA, mempool, PCI, VFIO, device), src/drivers/<family>, apps/, tests/, bench/.

CC       ?= cc
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)
PREFIX   ?= /usr/local
BUILD    := build
SOVER    := 0
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASE     := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc/core $(WARN)
CFLAGS   ?= -O2 -g
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DUNIC_DEBUG_BUILD=1
# ThreadSanitizer build of the library for the threaded unit tests (TSAN_TESTS).
# gcc warns that TSan does not model atomic_thread_fence (unic_wmb/rmb); clang has no such warning.
TSAN_NOWARN := $(shell $(CC) -Werror -Wno-tsan -fsyntax-only -x c /dev/null 2>/dev/null && echo -Wno-tsan)
TSANFLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer -DUNIC_DEBUG_BUILD=1 $(TSAN_NOWARN)

# One folder per backend under src/backends/: each is built and lights its row of the backend table
# (src/core/backends.c) through UNIC_HAVE_<NAME>.
BACKENDS := $(notdir $(wildcard src/backends/*))
BASE     += $(foreach b,$(BACKENDS),-DUNIC_HAVE_$(shell echo $(b) | tr a-z A-Z))
# a backend folder added or removed changes the table's flags: rebuild it
BACKEND_TABLE_OBJ := $(foreach k,obj pic san tsan,$(BUILD)/$(k)/src/core/backends.o)
LIB_SRC  := $(wildcard src/core/*.c) $(wildcard src/drivers/*/*.c) $(wildcard src/backends/*/*.c)
APP_SRC  := $(wildcard apps/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
LAB_SRC  := $(wildcard tests/lab/bin/*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PIC_OBJ  := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
SAN_OBJ  := $(LIB_SRC:%.c=$(BUILD)/san/%.o)
TSAN_OBJ := $(LIB_SRC:%.c=$(BUILD)/tsan/%.o)
APP_COMMON := $(wildcard apps/common/*.c)
APP_HDR  := $(wildcard apps/common/*.h)
APP_BIN  := $(patsubst apps/%.c,$(BUILD)/bin/%,$(APP_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TSAN_BIN := $(BUILD)/tests-tsan/test_threads $(BUILD)/tests-tsan/test_pool_threads $(BUILD)/tests-tsan/test_pool_shared
LAB_BIN  := $(patsubst tests/lab/bin/%.c,$(BUILD)/lab/bin/unic-lab-%,$(LAB_SRC))
GUEST_APPS := $(patsubst apps/%.c,$(BUILD)/lab/bin/%,$(APP_SRC))

# libpcap is used by unic-pcap only (the library itself needs nothing beyond libc).
PCAP_LIBS := $(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)
# Debian ships no libsystemd.a: the static unic-pcap gets apps/static/sd-daemon-stub.c instead.
# -Wl,--no-warnings hides glibc's "getpwnam_r in static binaries" notes from libpcap/libdbus code
# unic-pcap never calls (a failed link still fails, with only collect2's line).
PCAP_STATIC := $(filter-out -lsystemd,$(shell pkg-config --static --libs libpcap 2>/dev/null || echo -lpcap))

.PHONY: all lib apps tests lab-bins check unit lab fuzz demo bench install clean setup
all: lib apps tests lab-bins

lib: $(BUILD)/libunic.a $(BUILD)/libunic.so.$(SOVER)
apps: $(APP_BIN)
tests: $(UNIT_BIN) $(TSAN_BIN)
lab-bins: $(LAB_BIN) $(GUEST_APPS)

$(BUILD)/obj/%.o: %.c include/unic.h src/core/internal.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC   $@",true)
	$(Q)$(CC) $(BASE) $(CFLAGS) -MMD -c $< -o $@
$(BUILD)/pic/%.o: %.c include/unic.h src/core/internal.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC   $@",true)
	$(Q)$(CC) $(BASE) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -c $< -o $@
$(BUILD)/san/%.o: %.c include/unic.h src/core/internal.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC   $@",true)
	$(Q)$(CC) $(BASE) $(SANFLAGS) -MMD -c $< -o $@

$(BUILD)/tsan/%.o: %.c include/unic.h src/core/internal.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC   $@",true)
	$(Q)$(CC) $(BASE) $(TSANFLAGS) -MMD -c $< -o $@

$(BACKEND_TABLE_OBJ): $(wildcard src/backends)

$(BUILD)/libunic.a: $(LIB_OBJ)
	@rm -f $@
	@$(if $(Q),echo "  AR   $@",true)
	$(Q)ar rcs $@ $^
$(BUILD)/libunic-san.a: $(SAN_OBJ)
	@rm -f $@
	@$(if $(Q),echo "  AR   $@",true)
	$(Q)ar rcs $@ $^
# Only the public API is exported: hidden visibility, and the version script lists unic.h's functions.
$(BUILD)/libunic-tsan.a: $(TSAN_OBJ)
	@rm -f $@
	@$(if $(Q),echo "  AR   $@",true)
	$(Q)ar rcs $@ $^
$(BUILD)/libunic.so.$(SOVER): $(PIC_OBJ) src/libunic.map
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) -shared -Wl,-soname,libunic.so.$(SOVER) -Wl,--version-script=src/libunic.map -o $@ $(PIC_OBJ)
	ln -sf libunic.so.$(SOVER) $(BUILD)/libunic.so

# Tools: host build (dynamic) and a static build for the guest initramfs.
$(BUILD)/bin/unic-pcap: apps/unic-pcap.c $(APP_COMMON) $(APP_HDR) $(BUILD)/libunic.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) -Iapps $(CFLAGS) -o $@ $< $(APP_COMMON) $(BUILD)/libunic.a $(PCAP_LIBS) -lm
$(BUILD)/bin/%: apps/%.c $(APP_COMMON) $(APP_HDR) $(BUILD)/libunic.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) -Iapps $(CFLAGS) -o $@ $< $(APP_COMMON) $(BUILD)/libunic.a -lm
$(BUILD)/lab/bin/unic-pcap: apps/unic-pcap.c $(APP_COMMON) $(APP_HDR) apps/static/sd-daemon-stub.c $(BUILD)/libunic.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) -Iapps $(CFLAGS) -static -o $@ $< $(APP_COMMON) apps/static/sd-daemon-stub.c $(BUILD)/libunic.a $(PCAP_STATIC) -lm -Wl,--no-warnings
$(BUILD)/lab/bin/unic-%: apps/unic-%.c $(APP_COMMON) $(APP_HDR) $(BUILD)/libunic.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) -Iapps $(CFLAGS) -static -o $@ $< $(APP_COMMON) $(BUILD)/libunic.a -lm
$(BUILD)/lab/bin/unic-lab-%: tests/lab/bin/%.c tests/lab/bin/labbin.h $(BUILD)/libunic.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) -Itests/lab/bin $(CFLAGS) -static -o $@ $< $(BUILD)/libunic.a -lm

# Unit tests: sanitizer build of the library, one binary per tests/unit/test_*.c.
$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h tests/unit/fake_dev.h $(BUILD)/libunic-san.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) $(SANFLAGS) -Itests/unit -o $@ $< $(BUILD)/libunic-san.a

# The threaded tests again under ThreadSanitizer: an unlocked process global is a reported race.
$(BUILD)/tests-tsan/%: tests/unit/%.c tests/unit/check.h tests/unit/fake_dev.h $(BUILD)/libunic-tsan.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) $(TSANFLAGS) -Itests/unit -o $@ $< $(BUILD)/libunic-tsan.a

# test_pkt checks the tools' checksum and payload code (apps/common/pkt.c).
$(BUILD)/tests/test_pkt: tests/unit/test_pkt.c tests/unit/check.h apps/common/pkt.c apps/common/pkt.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) $(SANFLAGS) -Itests/unit -Iapps -o $@ $< apps/common/pkt.c

# test_tools: the tools' --cpus parser and check (apps/common/cpulist.c), --verify's per-flow
# accounting (apps/common/verify.c) on frames unic-pktgen's code writes, and nested --json (tool.c).
$(BUILD)/tests/test_tools: tests/unit/test_tools.c tests/unit/check.h $(APP_COMMON) $(APP_HDR) $(BUILD)/libunic-san.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) $(SANFLAGS) -Itests/unit -Iapps -o $@ $< apps/common/cpulist.c apps/common/verify.c apps/common/pkt.c apps/common/tool.c apps/common/idle.c $(BUILD)/libunic-san.a

# test_echo races a rewriting device against unic-echo's frame handler (apps/common/echo.c).
$(BUILD)/tests/test_echo: tests/unit/test_echo.c tests/unit/check.h apps/common/echo.c apps/common/echo.h apps/common/pkt.c apps/common/pkt.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD   $@",true)
	$(Q)$(CC) $(BASE) $(SANFLAGS) -Itests/unit -Iapps -o $@ $< apps/common/echo.c apps/common/pkt.c

setup:
	sudo_cmd= ; [ "$$(id -u)" = 0 ] || sudo_cmd=sudo ; $$sudo_cmd tests/lab/setup.sh

unit: $(UNIT_BIN) $(TSAN_BIN)
	tests/run-unit $(UNIT_BIN) $(TSAN_BIN)

lab: all
	tests/lab/run-all

fuzz: lib
	tests/fuzz/run

# Every test; the last line is "N passed, N failed".
check: setup all
	tests/check

demo: setup all
	tests/lab/demo

bench: setup all
	bench/run

install: lib apps
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/unic.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libunic.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libunic.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libunic.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libunic.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' unic.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/unic.pc
	[ -z "$(APP_BIN)" ] || install -m 755 $(APP_BIN) $(DESTDIR)$(PREFIX)/bin/
	[ ! -d man ] || { install -d $(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man1; \
	  for f in man/*.3; do [ -e "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/share/man/man3/; done; \
	  for f in man/*.1; do [ -e "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/share/man/man1/; done; true; }

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
