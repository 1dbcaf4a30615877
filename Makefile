# tde: Oracle-style TDE key management for PostgreSQL (PGXS build)

MODULE_big = tde
OBJS = \
	src/tde.o \
	src/secure.o \
	src/fileio.o \
	src/guc.o \
	src/privs.o \
	src/redact.o \
	src/wallet.o \
	src/seps.o \
	src/keystore.o \
	src/parser.o \
	src/administer.o \
	src/keystore_sql.o \
	src/crypto.o \
	src/masterkey.o \
	src/relkey.o \
	src/rewrap_worker.o \
	src/keys_sql.o \
	src/data_sql.o \
	src/views.o

EXTENSION = tde
DATA = tde--1.0.sql
PGFILEDESC = "tde - transparent data encryption key management"

PG_CPPFLAGS = -I$(srcdir)/include
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = -lcrypto

REGRESS = setup keystore parser external_store privileges views redaction autologin
REGRESS_OPTS = --temp-config=$(CURDIR)/test/regress.conf --temp-instance=$(CURDIR)/tmp_check_regress

TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The regression server's wallet root lives in the build tree; the
# configuration file that names it is generated so that the path is
# absolute wherever the tree is.
test/regress.conf: test/regress.conf.in
	sed 's|@WALLET_ROOT@|$(CURDIR)/tmp_wallet_root|' $< > $@

installcheck: test/regress.conf reset-wallet-root
reset-wallet-root:
	rm -rf $(CURDIR)/tmp_wallet_root && mkdir -m 700 $(CURDIR)/tmp_wallet_root

.PHONY: reset-wallet-root
EXTRA_CLEAN = test/regress.conf tmp_wallet_root tmp_check_regress
