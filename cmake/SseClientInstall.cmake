# Install rules of the sse_client CMake package; included from the root CMakeLists.txt when
# SSE_CLIENT_INSTALL is ON. Layout (relative to the prefix), on ELF systems (Linux, BSDs):
#
#   lib/libsse_client.so.1.1.0                        the shared library (SONAME libsse_client.so.1)
#   lib/libsse_client.so.1 -> libsse_client.so.1.1.0  what programs load (their DT_NEEDED)
#   lib/libsse_client.so -> libsse_client.so.1        what -lsse_client finds at link time
#   lib/libsse_client.a                               (${CMAKE_INSTALL_LIBDIR})
#   include/sse_client.h                              (${CMAKE_INSTALL_INCLUDEDIR})
#   lib/cmake/SseClient/SseClientConfig.cmake, SseClientConfigVersion.cmake
#   lib/pkgconfig/sse_client.pc
#   lib/.debug/libsse_client.so.1.1.0.debug           only with SSE_CLIENT_INSTALL_DEBUG_INFO
#
# Elsewhere the shared library keeps cargo's name and has no SONAME.
#
# Stripping (SSE_CLIENT_INSTALL_STRIP, default ON): cargo's profiles keep debug info in the
# build tree (benchmarks, profilers and abidw need it); the installed shared library is
# stripped of everything but its dynamic symbols (--strip-unneeded: the sse_* exports stay)
# and the static library of its debug info (--strip-debug). SSE_CLIENT_INSTALL_DEBUG_INFO
# keeps the shared library's debug info in a separate file that gdb finds through the
# library's .gnu_debuglink. The installed files are prepared at build time in
# <build>/sse_client-dist/, so that `cmake --install` only copies.
#
# Components: SseClient_Runtime (the shared library and its SONAME link), SseClient_Development
# (the rest), SseClient_Debug (the split debug info).
# The Qt wrapper (cpp-example/) may add lib/cmake/SseClient/SseClientQtTargets.cmake:
# SseClientConfig.cmake includes it when present (see cmake/SseClientConfig.cmake.in).

set(SSE_CLIENT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/SseClient"
    CACHE STRING "Where the CMake package files of sse_client are installed")
option(SSE_CLIENT_INSTALL_STRIP
  "Install the libraries without debug info (shared: --strip-unneeded, static: --strip-debug)" ON)
option(SSE_CLIENT_INSTALL_DEBUG_INFO
  "With SSE_CLIENT_INSTALL_STRIP: also install the shared library's debug info (<libdir>/.debug/)" OFF)

# --- The libraries as installed -----------------------------------------------------------
# Names per platform: cmake/SseClientPlatform.cmake. On Windows the DLL goes to bin/ (where
# programs find it) and its import library to lib/; elsewhere both libraries go to lib/.
set(SSE_CLIENT_SHARED_LIBRARY_FILE "${SSE_CLIENT_SHARED_INSTALL_NAME}")
if(WIN32)
  set(_sse_client_shared_destination "${CMAKE_INSTALL_BINDIR}")
else()
  set(_sse_client_shared_destination "${CMAKE_INSTALL_LIBDIR}")
endif()

set(_sse_client_dist "${PROJECT_BINARY_DIR}/sse_client-dist")
set(_sse_client_dist_shared "${_sse_client_dist}/${SSE_CLIENT_SHARED_LIBRARY_FILE}")
set(_sse_client_dist_static "${_sse_client_dist}/${SSE_CLIENT_STATIC_LIBRARY_NAME}")
set(_sse_client_dist_debug "${_sse_client_dist_shared}.debug")
file(MAKE_DIRECTORY "${_sse_client_dist}")

# How to strip: GNU binutils (ELF, and PE with MinGW) keep the dynamic symbols with
# --strip-unneeded; Apple's strip keeps the exports with -x. MSVC puts debug info in PDB
# files, not in the DLL: nothing to strip.
if(MSVC)
  set(_sse_client_strip_mode none)
elseif(APPLE)
  set(_sse_client_strip_mode apple)
else()
  set(_sse_client_strip_mode gnu)
endif()
if(SSE_CLIENT_INSTALL_DEBUG_INFO AND NOT _sse_client_strip_mode STREQUAL "gnu")
  message(WARNING "sse_client: SSE_CLIENT_INSTALL_DEBUG_INFO needs GNU objcopy; ignored here")
  set(SSE_CLIENT_INSTALL_DEBUG_INFO OFF)
endif()

set(_sse_client_dist_outputs "${_sse_client_dist_shared}" "${_sse_client_dist_static}")
set(_sse_client_prepare_shared)
set(_sse_client_prepare_static)
if(SSE_CLIENT_INSTALL_STRIP AND NOT _sse_client_strip_mode STREQUAL "none")
  set(_sse_client_tools CMAKE_STRIP)
  if(SSE_CLIENT_INSTALL_DEBUG_INFO)
    list(APPEND _sse_client_tools CMAKE_OBJCOPY)
  endif()
  foreach(_tool IN LISTS _sse_client_tools)
    if(NOT ${_tool})
      message(FATAL_ERROR "sse_client: SSE_CLIENT_INSTALL_STRIP needs ${_tool} (binutils), "
                          "which CMake did not find; set it, or -DSSE_CLIENT_INSTALL_STRIP=OFF")
    endif()
  endforeach()
  if(SSE_CLIENT_INSTALL_DEBUG_INFO)
    list(APPEND _sse_client_dist_outputs "${_sse_client_dist_debug}")
    list(APPEND _sse_client_prepare_shared
      COMMAND "${CMAKE_OBJCOPY}" --only-keep-debug "${SSE_CLIENT_SHARED_LIBRARY}"
              "${_sse_client_dist_debug}")
  endif()
  if(_sse_client_strip_mode STREQUAL "apple")
    list(APPEND _sse_client_prepare_shared
      COMMAND "${CMAKE_COMMAND}" -E copy "${SSE_CLIENT_SHARED_LIBRARY}" "${_sse_client_dist_shared}"
      COMMAND "${CMAKE_STRIP}" -x "${_sse_client_dist_shared}")
    list(APPEND _sse_client_prepare_static
      COMMAND "${CMAKE_COMMAND}" -E copy "${SSE_CLIENT_STATIC_LIBRARY}" "${_sse_client_dist_static}"
      COMMAND "${CMAKE_STRIP}" -S "${_sse_client_dist_static}")
  else()
    list(APPEND _sse_client_prepare_shared
      COMMAND "${CMAKE_STRIP}" --strip-unneeded -o "${_sse_client_dist_shared}"
              "${SSE_CLIENT_SHARED_LIBRARY}")
    if(WIN32)
      # rustc's MinGW static library holds empty .dwo members, which strip refuses
      # ("has no sections"): it is installed as built.
      list(APPEND _sse_client_prepare_static
        COMMAND "${CMAKE_COMMAND}" -E copy "${SSE_CLIENT_STATIC_LIBRARY}" "${_sse_client_dist_static}")
    else()
      list(APPEND _sse_client_prepare_static
        COMMAND "${CMAKE_STRIP}" --strip-debug -o "${_sse_client_dist_static}"
                "${SSE_CLIENT_STATIC_LIBRARY}")
    endif()
  endif()
  if(SSE_CLIENT_INSTALL_DEBUG_INFO)
    # The link records the file's name (no directory) and CRC: gdb looks for it next to
    # the library and in its .debug/ subdirectory.
    list(APPEND _sse_client_prepare_shared
      COMMAND "${CMAKE_OBJCOPY}" "--add-gnu-debuglink=${SSE_CLIENT_SHARED_LIBRARY_FILE}.debug"
              "${SSE_CLIENT_SHARED_LIBRARY_FILE}")
  endif()
  set(_sse_client_prepare_comment "stripping the libraries to install (SSE_CLIENT_INSTALL_STRIP)")
else()
  list(APPEND _sse_client_prepare_shared
    COMMAND "${CMAKE_COMMAND}" -E copy "${SSE_CLIENT_SHARED_LIBRARY}" "${_sse_client_dist_shared}")
  list(APPEND _sse_client_prepare_static
    COMMAND "${CMAKE_COMMAND}" -E copy "${SSE_CLIENT_STATIC_LIBRARY}" "${_sse_client_dist_static}")
  set(_sse_client_prepare_comment "copying the libraries to install")
endif()
if(APPLE)
  # The install name programs record: @rpath/libsse_client.<major>.dylib, whatever rustc
  # wrote, with the library's version for the dynamic linker's compatibility check.
  find_program(SSE_CLIENT_INSTALL_NAME_TOOL install_name_tool REQUIRED)
  list(APPEND _sse_client_prepare_shared
    COMMAND "${SSE_CLIENT_INSTALL_NAME_TOOL}" -id "@rpath/${SSE_CLIENT_SONAME}"
            "${_sse_client_dist_shared}")
endif()
set(_sse_client_dist_depends "${SSE_CLIENT_SHARED_LIBRARY}" "${SSE_CLIENT_STATIC_LIBRARY}")
if(SSE_CLIENT_IMPORT_LIBRARY)
  set(_sse_client_dist_implib "${_sse_client_dist}/${SSE_CLIENT_IMPORT_LIBRARY_NAME}")
  list(APPEND _sse_client_dist_outputs "${_sse_client_dist_implib}")
  list(APPEND _sse_client_prepare_static
    COMMAND "${CMAKE_COMMAND}" -E copy "${SSE_CLIENT_IMPORT_LIBRARY}" "${_sse_client_dist_implib}")
  list(APPEND _sse_client_dist_depends "${SSE_CLIENT_IMPORT_LIBRARY}")
endif()
add_custom_command(
  OUTPUT ${_sse_client_dist_outputs}
  ${_sse_client_prepare_shared}
  ${_sse_client_prepare_static}
  DEPENDS ${_sse_client_dist_depends}
  WORKING_DIRECTORY "${_sse_client_dist}"
  COMMENT "sse_client: ${_sse_client_prepare_comment}"
  VERBATIM)
add_custom_target(sse_client_dist ALL DEPENDS ${_sse_client_dist_outputs})
add_dependencies(sse_client_dist sse_client_cargo)

install(FILES "${_sse_client_dist_shared}"
  DESTINATION "${_sse_client_shared_destination}"
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
              WORLD_READ WORLD_EXECUTE
  COMPONENT SseClient_Runtime)
if(SSE_CLIENT_IMPORT_LIBRARY)
  install(FILES "${_sse_client_dist_implib}"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    COMPONENT SseClient_Development)
endif()
# The development link, libsse_client.so -> .so.<major> or libsse_client.dylib ->
# libsse_client.<major>.dylib, is what -lsse_client finds; on ELF systems the SONAME link
# .so.<major> -> .so.<version> is what programs load. Made here once (they dangle until
# the build) and installed as links.
if(SSE_CLIENT_SONAME AND NOT APPLE)
  file(CREATE_LINK "${SSE_CLIENT_SHARED_LIBRARY_FILE}" "${_sse_client_dist}/${SSE_CLIENT_SONAME}"
       SYMBOLIC)
  install(FILES "${_sse_client_dist}/${SSE_CLIENT_SONAME}"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    COMPONENT SseClient_Runtime)
endif()
if(SSE_CLIENT_SONAME)
  file(CREATE_LINK "${SSE_CLIENT_SONAME}" "${_sse_client_dist}/${SSE_CLIENT_SHARED_LIBRARY_NAME}"
       SYMBOLIC)
  install(FILES "${_sse_client_dist}/${SSE_CLIENT_SHARED_LIBRARY_NAME}"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    COMPONENT SseClient_Development)
endif()
if(SSE_CLIENT_INSTALL_STRIP AND SSE_CLIENT_INSTALL_DEBUG_INFO)
  install(FILES "${_sse_client_dist_debug}"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}/.debug"
    COMPONENT SseClient_Debug)
endif()
install(FILES "${_sse_client_dist_static}"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  COMPONENT SseClient_Development)
install(FILES "${SSE_CLIENT_HEADER}"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT SseClient_Development)

# --- CMake package: find_package(SseClient CONFIG) ---------------------------------------
# How the config template describes the installed shared library (one line of target
# properties): ELF: its SONAME, so consumers link by path and record DT_NEEDED
# libsse_client.so.<major> (without one, CMake must link it as -lsse_client: a full path
# would end up in the consumer's DT_NEEDED); macOS: its install name; Windows: the DLL in
# bin/ and its import library in lib/.
if(WIN32)
  set(SSE_CLIENT_SHARED_PROPERTIES
      "IMPORTED_LOCATION \"\${_sse_client_bindir}/${SSE_CLIENT_SHARED_LIBRARY_FILE}\" IMPORTED_IMPLIB \"\${_sse_client_libdir}/${SSE_CLIENT_IMPORT_LIBRARY_NAME}\"")
elseif(APPLE)
  set(SSE_CLIENT_SHARED_PROPERTIES
      "IMPORTED_LOCATION \"\${_sse_client_libdir}/${SSE_CLIENT_SHARED_LIBRARY_FILE}\" IMPORTED_SONAME \"@rpath/${SSE_CLIENT_SONAME}\"")
elseif(SSE_CLIENT_SONAME)
  set(SSE_CLIENT_SHARED_PROPERTIES
      "IMPORTED_LOCATION \"\${_sse_client_libdir}/${SSE_CLIENT_SHARED_LIBRARY_FILE}\" IMPORTED_SONAME \"${SSE_CLIENT_SONAME}\"")
else()
  set(SSE_CLIENT_SHARED_PROPERTIES
      "IMPORTED_LOCATION \"\${_sse_client_libdir}/${SSE_CLIENT_SHARED_LIBRARY_FILE}\" IMPORTED_NO_SONAME TRUE")
endif()
set(SSE_CLIENT_STATIC_LINK_LIBRARIES "${SSE_CLIENT_SYSTEM_LIBRARIES}")
if(WIN32)
  set(SSE_CLIENT_SHARED_LINK_LIBRARIES "")
else()
  set(SSE_CLIENT_SHARED_LINK_LIBRARIES "${SSE_CLIENT_STATIC_LINK_LIBRARIES}")
endif()
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/SseClientConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/SseClientConfig.cmake"
  INSTALL_DESTINATION "${SSE_CLIENT_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR)
# Cargo semantics: before 1.0 a new minor version is a breaking one.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_sse_client_compatibility SameMinorVersion)
else()
  set(_sse_client_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/SseClientConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY ${_sse_client_compatibility})
install(FILES
    "${PROJECT_BINARY_DIR}/SseClientConfig.cmake"
    "${PROJECT_BINARY_DIR}/SseClientConfigVersion.cmake"
  DESTINATION "${SSE_CLIENT_INSTALL_CMAKEDIR}"
  COMPONENT SseClient_Development)

# --- pkg-config: sse_client.pc ---------------------------------------------------------
# Written at install time, so that its prefix is the one actually installed to
# (`cmake --install <build> --prefix <dir>` included), then installed like any file.
set(_sse_client_pc "${PROJECT_BINARY_DIR}/pkgconfig/sse_client.pc")
install(CODE "
set(_sse_client_pc_template \"${PROJECT_SOURCE_DIR}/cmake/sse_client.pc.in\")
set(_sse_client_pc \"${_sse_client_pc}\")
set(_sse_client_pc_libdir \"${CMAKE_INSTALL_LIBDIR}\")
set(_sse_client_pc_includedir \"${CMAKE_INSTALL_INCLUDEDIR}\")
set(SSE_CLIENT_PC_VERSION \"${PROJECT_VERSION}\")
set(SSE_CLIENT_PC_DESCRIPTION \"${PROJECT_DESCRIPTION}\")
set(SSE_CLIENT_PC_LIBS_PRIVATE \"${SSE_CLIENT_PC_LIBS_PRIVATE}\")
" COMPONENT SseClient_Development)
install(CODE [[
set(SSE_CLIENT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(_dir libdir includedir)
  if(IS_ABSOLUTE "${_sse_client_pc_${_dir}}")
    set(SSE_CLIENT_PC_${_dir} "${_sse_client_pc_${_dir}}")
  else()
    set(SSE_CLIENT_PC_${_dir} "\${prefix}/${_sse_client_pc_${_dir}}")
  endif()
endforeach()
configure_file("${_sse_client_pc_template}" "${_sse_client_pc}" @ONLY)
]] COMPONENT SseClient_Development)
install(FILES "${_sse_client_pc}"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
  COMPONENT SseClient_Development)
