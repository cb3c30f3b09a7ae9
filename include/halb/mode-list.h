/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarding modes, one line each: HALB_MODE(ENUM, name).  ENUM makes
 * CFG_MODE_ENUM (cfg-t.h), name is what a service's `mode` key says
 * (cfg_services.c) and names the forwarder's ops, fwd_mode_<name>, in
 * forwarder/mode_<name>.c.  A new mode is that file, one line here, and
 * whatever it asks of its backends in cfg_services.c's check_backend_mode.
 * The first is the default.
 */
HALB_MODE(DSR, dsr)
HALB_MODE(NAT, nat)
HALB_MODE(TUNNEL, tunnel)
