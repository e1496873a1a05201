# What differs between platforms in the sse_client package: the file names cargo writes,
# the names they are installed under, and the system libraries the Rust code links.
# Included from the root CMakeLists.txt once the cargo output directory is known
# (_sse_client_out). Sets, for the rest of the build and the install rules:
#
#   SSE_CLIENT_SHARED_LIBRARY    the shared library cargo builds: libsse_client.so,
#                                libsse_client.dylib, or sse_client.dll
#   SSE_CLIENT_IMPORT_LIBRARY    Windows: the DLL's import library (sse_client.dll.lib with
#                                MSVC, libsse_client.dll.a with MinGW); empty elsewhere
#   SSE_CLIENT_STATIC_LIBRARY    libsse_client.a, or sse_client.lib with MSVC
#   SSE_CLIENT_SHARED_INSTALL_NAME  the shared library's installed file name:
#                                libsse_client.so.1.1.0 (ELF), libsse_client.1.dylib (macOS),
#                                sse_client.dll (Windows)
#   SSE_CLIENT_SONAME            ELF: libsse_client.so.<major>, the SONAME build.rs gives it;
#                                macOS: libsse_client.<major>.dylib, the file of its install
#                                name @rpath/libsse_client.<major>.dylib; empty on Windows
#   SSE_CLIENT_SYSTEM_LIBRARIES  what a program linking the static library also needs
#                                (`rustc --print native-static-libs`); the shared library
#                                carries its own dependencies
#   SSE_CLIENT_PC_LIBS_PRIVATE   the same for pkg-config's Libs.private
#
# Names follow cargo, not CMake: cargo calls the DLL sse_client.dll with MinGW too, where
# CMake's prefix would be "lib".

set(_sse_client_major "${PROJECT_VERSION_MAJOR}")
if(WIN32)
  set(SSE_CLIENT_SHARED_LIBRARY "${_sse_client_out}/sse_client.dll")
  if(MSVC)
    set(SSE_CLIENT_IMPORT_LIBRARY "${_sse_client_out}/sse_client.dll.lib")
    set(SSE_CLIENT_STATIC_LIBRARY "${_sse_client_out}/sse_client.lib")
  else()
    set(SSE_CLIENT_IMPORT_LIBRARY "${_sse_client_out}/libsse_client.dll.a")
    set(SSE_CLIENT_STATIC_LIBRARY "${_sse_client_out}/libsse_client.a")
  endif()
  set(SSE_CLIENT_SHARED_INSTALL_NAME "sse_client.dll")
  set(SSE_CLIENT_SONAME "")
  # ws2_32: sockets; bcrypt: the random numbers of std and ring; userenv, ntdll, kernel32,
  # advapi32: std; crypt32: the system certificate store (SSE_TRUST_SYSTEM).
  set(SSE_CLIENT_SYSTEM_LIBRARIES ws2_32 bcrypt userenv ntdll kernel32 advapi32 crypt32)
  set(SSE_CLIENT_PC_LIBS_PRIVATE "-lws2_32 -lbcrypt -luserenv -lntdll -lkernel32 -ladvapi32 -lcrypt32")
elseif(APPLE)
  set(SSE_CLIENT_SHARED_LIBRARY "${_sse_client_out}/libsse_client.dylib")
  set(SSE_CLIENT_IMPORT_LIBRARY "")
  set(SSE_CLIENT_STATIC_LIBRARY "${_sse_client_out}/libsse_client.a")
  set(SSE_CLIENT_SHARED_INSTALL_NAME "libsse_client.${_sse_client_major}.dylib")
  set(SSE_CLIENT_SONAME "libsse_client.${_sse_client_major}.dylib")
  # The keychain (SSE_TRUST_SYSTEM) is read through the Security framework.
  set(SSE_CLIENT_SYSTEM_LIBRARIES Threads::Threads m "-framework Security"
      "-framework CoreFoundation")
  set(SSE_CLIENT_PC_LIBS_PRIVATE "-lpthread -lm -framework Security -framework CoreFoundation")
else()
  set(SSE_CLIENT_SHARED_LIBRARY "${_sse_client_out}/libsse_client.so")
  set(SSE_CLIENT_IMPORT_LIBRARY "")
  set(SSE_CLIENT_STATIC_LIBRARY "${_sse_client_out}/libsse_client.a")
  # The ELF systems where build.rs gives the library a SONAME (keep the two lists alike).
  # build.rs also links <cargo output>/libsse_client.so.<major> -> libsse_client.so, which
  # the build tree's programs load.
  if(CMAKE_SYSTEM_NAME MATCHES "^(Linux|Android|FreeBSD|NetBSD|OpenBSD|DragonFly)$")
    set(SSE_CLIENT_SONAME "libsse_client.so.${_sse_client_major}")
    set(SSE_CLIENT_SHARED_INSTALL_NAME "libsse_client.so.${PROJECT_VERSION}")
  else()
    set(SSE_CLIENT_SONAME "")
    set(SSE_CLIENT_SHARED_INSTALL_NAME "libsse_client.so")
  endif()
  set(SSE_CLIENT_SYSTEM_LIBRARIES Threads::Threads ${CMAKE_DL_LIBS} m)
  set(SSE_CLIENT_PC_LIBS_PRIVATE "-lpthread -ldl -lm")
endif()
get_filename_component(SSE_CLIENT_SHARED_LIBRARY_NAME "${SSE_CLIENT_SHARED_LIBRARY}" NAME)
get_filename_component(SSE_CLIENT_STATIC_LIBRARY_NAME "${SSE_CLIENT_STATIC_LIBRARY}" NAME)
if(SSE_CLIENT_IMPORT_LIBRARY)
  get_filename_component(SSE_CLIENT_IMPORT_LIBRARY_NAME "${SSE_CLIENT_IMPORT_LIBRARY}" NAME)
else()
  set(SSE_CLIENT_IMPORT_LIBRARY_NAME "")
endif()
unset(_sse_client_major)
