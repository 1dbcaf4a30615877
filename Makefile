# tde: Oracle-style TDE key management for PostgreSQL (PGXS build)

MODULE_big = tde
# Every .c of the module (src/) and of its layers (src/<layer>/); see
# doc/code-map.md for the layers.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))

EXTENSION = tde
DATA = tde--1.0.sql tde--1.1.sql tde--1.0--1.1.sql
PGFILEDESC = "tde - transparent data encryption key management"

PG_CPPFLAGS = -I$(srcdir)/include
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = -lcrypto -ldl
PG_CPPFLAGS += $(shell pkg-config --cflags p11-kit-1 2>/dev/null || echo -I/usr/include/p11-kit-1)

REGRESS = setup keystore parser external_store privileges views redaction autologin
REGRESS_OPTS = --temp-config=$(CURDIR)/test/regress.conf --temp-instance=$(CURDIR)/tmp_check_regress

TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies here: an object is rebuilt when any
# of tde's headers changes (a changed limit in a header must not leave an
# object built with the old one).
$(OBJS): $(wildcard include/tde/*.h include/tde/*/*.h)

# The regression server's wallet root lives in the build tree; the
# configuration file that names it is generated so that the path is
# absolute wherever the tree is.
test/regress.conf: test/regress.conf.in
	sed 's|@WALLET_ROOT@|$(CURDIR)/tmp_wallet_root|' $< > $@

installcheck: test/regress.conf reset-wallet-root
reset-wallet-root:
	rm -rf $(CURDIR)/tmp_wallet_root && mkdir -m 700 $(CURDIR)/tmp_wallet_root

# Master keys need a keystore of their own from a known start, so their
# suite runs on a second temporary server after the keystore suite.
REGRESS_KEYS = keys_setup masterkeys relation_keys encryption runbook_file encrypt_kinds transfer secrets
test/regress-keys.conf: test/regress.conf.in
	sed 's|@WALLET_ROOT@|$(CURDIR)/tmp_wallet_root_keys|' $< > $@

installcheck-keys: test/regress-keys.conf
ifneq ($(strip $(REGRESS_KEYS)),)
	rm -rf $(CURDIR)/tmp_wallet_root_keys && mkdir -m 700 $(CURDIR)/tmp_wallet_root_keys
	$(pg_regress_installcheck) --temp-config=$(CURDIR)/test/regress-keys.conf \
		--temp-instance=$(CURDIR)/tmp_check_keys --outputdir=$(CURDIR)/results_keys_out \
		$(REGRESS_KEYS)
endif

# TAP tests alone: make tap [PROVE_TESTS=t/001_restart.pl]
tap:
	$(prove_installcheck)

installcheck: installcheck-keys

.PHONY: reset-wallet-root installcheck-keys tap
EXTRA_CLEAN = test/regress.conf test/regress-keys.conf tmp_wallet_root \
	tmp_wallet_root_keys tmp_check_regress tmp_check_keys results_keys_out

# Isolation specs (pg_isolation_regress): the locking rules, on a third
# temporary preloaded server with a wallet root of its own.  The specs are
# specs/<name>.spec with expected/<name>.out; every name starts with iso_,
# which no pg_regress test uses, so the two kinds never share an expected
# file.  They run in this order on one server and share its keystore, which
# each spec's setup creates, opens and gives a master key when it lacks
# them, so each also runs alone.  iso_cancel_wait shows that a session
# waiting for another's keystore change can be cancelled (it writes the
# wallet at the default 600,000 KDF iterations, then back at 1000).
ISOLATION_SPECS = iso_rekey_encrypt iso_close_encrypt iso_two_rekeys iso_cancel_wait \
	iso_decrypt_rekey iso_secrets_export iso_open_close_rekey
test/regress-iso.conf: test/regress.conf.in
	sed 's|@WALLET_ROOT@|$(CURDIR)/tmp_wallet_root_iso|' $< > $@
	echo "log_line_prefix = '%m [%p] '" >> $@

installcheck-isolation: test/regress-iso.conf
ifneq ($(strip $(ISOLATION_SPECS)),)
	$(if $(filter-out iso_%,$(ISOLATION_SPECS)),$(error isolation spec names must start with iso_: $(filter-out iso_%,$(ISOLATION_SPECS))))
	rm -rf $(CURDIR)/tmp_wallet_root_iso && mkdir -m 700 $(CURDIR)/tmp_wallet_root_iso
	$(pg_isolation_regress_installcheck) --temp-config=$(CURDIR)/test/regress-iso.conf \
		--temp-instance=$(CURDIR)/tmp_check_iso --outputdir=$(CURDIR)/output_iso \
		--load-extension=tde $(ISOLATION_SPECS)
endif

installcheck: installcheck-isolation

.PHONY: installcheck-isolation
EXTRA_CLEAN += test/regress-iso.conf tmp_wallet_root_iso tmp_check_iso output_iso

# The LD_PRELOAD shim of t/053_io_failures.pl, which makes keystore file
# I/O fail on demand (see its header); the test runs make test/faultfs.so.
test/faultfs.so: test/faultfs.c
	$(CC) -shared -fPIC -O2 -Wall -Wextra -Werror -o $@ $< -ldl
EXTRA_CLEAN += test/faultfs.so

# libFuzzer harnesses (fuzz/, doc/reliability.md): build them all, replay
# fuzz/regressions/, then fuzz each for FUZZ_SECONDS seconds (default 10).
fuzz:
	@$(MAKE) --no-print-directory -C fuzz run

.PHONY: fuzz
