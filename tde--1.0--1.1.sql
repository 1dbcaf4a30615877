/* tde--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION tde UPDATE TO '1.1'" to load this file. \quit

-- Version 1.0 is released: every SQL change since goes here, and the same
-- change goes into tde--1.1.sql, so that an updated database and a new one
-- end up with the same objects (t/007_upgrade.pl compares them).
