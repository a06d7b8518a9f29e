#ifndef SEALDROP_CLIBSSH_SHIM_H
#define SEALDROP_CLIBSSH_SHIM_H

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>
#include <libssh/sftp.h>

#endif
