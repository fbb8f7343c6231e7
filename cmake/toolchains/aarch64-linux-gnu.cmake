# Cross-build for 64-bit ARM Linux (aarch64-linux-gnu) with Debian's cross compiler
# (g++-aarch64-linux-gnu) against the arm64 sysroot scripts/arm64-sysroot.sh unpacks from Debian's
# arm64 packages.  The compiler brings its own C library (/usr/aarch64-linux-gnu); the sysroot
# adds glslang, SPIRV-Tools, PCRE2 and the header-only libraries.  Shaders are still compiled by the
# host's glslangValidator (SPIR-V is the same on every architecture).  Preset: `arm64`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

if(NOT BCVK_ARM64_SYSROOT)
  if(DEFINED ENV{BCVK_ARM64_SYSROOT})
    set(BCVK_ARM64_SYSROOT "$ENV{BCVK_ARM64_SYSROOT}")
  else()
    get_filename_component(BCVK_ARM64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../../build-arm64/sysroot" ABSOLUTE)
  endif()
endif()
set(BCVK_ARM64_SYSROOT "${BCVK_ARM64_SYSROOT}" CACHE PATH "arm64 sysroot (scripts/arm64-sysroot.sh)")
if(NOT EXISTS "${BCVK_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/libglslang.a")
  message(FATAL_ERROR "no arm64 sysroot at ${BCVK_ARM64_SYSROOT}: run bash scripts/arm64-sysroot.sh")
endif()
# try_compile projects see the sysroot too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES BCVK_ARM64_SYSROOT)

set(CMAKE_FIND_ROOT_PATH "${BCVK_ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # host tools: glslangValidator, ccache
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# glslang's SPIRV target names SPIRV-Tools by plain library name: let the linker find them.
set(_arm64_lib "${BCVK_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
# Multiarch headers (openssl's opensslconf.h, included by httplib.h), searched after the
# compiler's own so no glibc header of the sysroot can shadow the cross toolchain's.
set(CMAKE_C_FLAGS_INIT "-idirafter ${BCVK_ARM64_SYSROOT}/usr/include/aarch64-linux-gnu")
set(CMAKE_CXX_FLAGS_INIT "-idirafter ${BCVK_ARM64_SYSROOT}/usr/include/aarch64-linux-gnu")
# Debian 12 still puts some libraries (zlib, needed by cpp-httplib) under /lib.
set(_arm64_rootlib "${BCVK_ARM64_SYSROOT}/lib/aarch64-linux-gnu")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "-L${_arm64_lib} -Wl,-rpath-link,${_arm64_lib} -Wl,-rpath-link,${_arm64_rootlib}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT
    "-L${_arm64_lib} -Wl,-rpath-link,${_arm64_lib} -Wl,-rpath-link,${_arm64_rootlib}")

# pkg-config (PCRE2) reads the sysroot's arm64 .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "${_arm64_lib}/pkgconfig:${BCVK_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${BCVK_ARM64_SYSROOT}")

# Lets ctest and custom commands run arm64 programs on the build machine.
find_program(BCVK_QEMU_AARCH64 qemu-aarch64)
if(BCVK_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${BCVK_QEMU_AARCH64};-L;${BCVK_ARM64_SYSROOT}")
endif()
