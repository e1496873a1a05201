# Install rules of the sse_client CMake package; included from the root CMakeLists.txt when
# SSE_CLIENT_INSTALL is ON. Layout (relative to the prefix):
#
#   lib/libsse_client.so, lib/libsse_client.a          (${CMAKE_INSTALL_LIBDIR})
#   include/sse_client.h                              (${CMAKE_INSTALL_INCLUDEDIR})
#   lib/cmake/SseClient/SseClientConfig.cmake, SseClientConfigVersion.cmake
#   lib/pkgconfig/sse_client.pc
#
# Components: SseClient_Runtime (the shared library), SseClient_Development (the rest).
# The Qt wrapper (cpp-example/) may add lib/cmake/SseClient/SseClientQtTargets.cmake:
# SseClientConfig.cmake includes it when present (see cmake/SseClientConfig.cmake.in).

set(SSE_CLIENT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/SseClient"
    CACHE STRING "Where the CMake package files of sse_client are installed")

install(FILES "${SSE_CLIENT_SHARED_LIBRARY}"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
              WORLD_READ WORLD_EXECUTE
  COMPONENT SseClient_Runtime)
install(FILES "${SSE_CLIENT_STATIC_LIBRARY}"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  COMPONENT SseClient_Development)
install(FILES "${SSE_CLIENT_HEADER}"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT SseClient_Development)

# --- CMake package: find_package(SseClient CONFIG) ---------------------------------------
# Library file names as cargo writes them, for the config template.
set(SSE_CLIENT_SHARED_LIBRARY_NAME
    "${CMAKE_SHARED_LIBRARY_PREFIX}sse_client${CMAKE_SHARED_LIBRARY_SUFFIX}")
set(SSE_CLIENT_STATIC_LIBRARY_NAME
    "${CMAKE_STATIC_LIBRARY_PREFIX}sse_client${CMAKE_STATIC_LIBRARY_SUFFIX}")
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/SseClientConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/SseClientConfig.cmake"
  INSTALL_DESTINATION "${SSE_CLIENT_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
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
set(SSE_CLIENT_PC_LIBS_PRIVATE \"-lpthread -ldl -lm\")
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
