#!/bin/sh
# Link launcher for cricket-conmon (RULE_LAUNCH_LINK): runs the link command it is given, with every
# shared library named by full path (/x/libfoo.so, as pkg-config imported targets name libcrypto and
# libseccomp) replaced by its static archive beside it (/x/libfoo.a) when there is one, so that the
# monitor can be linked with -static while the other targets keep linking those libraries shared.
for arg in "$@"; do
  case "$arg" in
    /*.so)
      if [ -f "${arg%.so}.a" ]; then arg="${arg%.so}.a"; fi
      ;;
  esac
  set -- "$@" "$arg"
  shift
done
exec "$@"
