# Checks the installed sse_client package from outside, one step per ctest test
# (registered by cmake/SseClientTests.cmake):
#
#   cmake -DSTEP=install|cmake|c-only|version|pkg-config -DBUILD_DIR=... -DINSTALL_DIR=... [...] -P RunConsumerTest.cmake
#
#   install     cmake --install BUILD_DIR --prefix INSTALL_DIR (a fresh tree), checks the layout:
#               with SONAME (ELF), the shared library files are exactly
#               libsse_client.so.X.Y.Z, SONAME -> it and libsse_client.so -> SONAME, the
#               library's SONAME is SONAME, and with STRIPPED it has no .debug_info;
#               with EXPECT_QT, the Qt wrapper's SseClientQtTargets.cmake is installed
#   cmake       configures, builds and runs tests/cmake_consumer against INSTALL_DIR
#               (find_package(SseClient CONFIG REQUIRED), shared and static, C++; and the Qt
#               wrapper with EXPECT_QT) in CONSUMER_BUILD_DIR
#   c-only      the same with tests/cmake_consumer/c_only, a project(... C) without C++,
#               in CONSUMER_BUILD_DIR-c
#   version     configures tests/cmake_consumer/version_check asking for versions the
#               package must refuse (the next major, 0.1) and accept (MAJOR.0, its own)
#   pkg-config  compiles tests/cmake_consumer/pkg_config_check.c with
#               $(pkg-config --cflags --libs sse_client), PKG_CONFIG_PATH=INSTALL_DIR/LIBDIR/pkgconfig,
#               and runs it with LD_LIBRARY_PATH=INSTALL_DIR/LIBDIR; the .pc's version is
#               EXPECTED_VERSION
# The programs linked against the shared library must record DT_NEEDED SONAME (checked
# with READELF when SONAME is set).
#
# Any failing step fails the test (FATAL_ERROR, exit status 1).
cmake_minimum_required(VERSION 3.16)

foreach(_var STEP BUILD_DIR SOURCE_DIR INSTALL_DIR LIBDIR CONSUMER_BUILD_DIR)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "RunConsumerTest.cmake: -D${_var}=... is required")
  endif()
endforeach()

# Runs a command, echoes it, and stops the test when it fails.
function(run_step)
  string(REPLACE ";" " " _shown "${ARGN}")
  message(STATUS "+ ${_shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "command failed (${_result}): ${_shown}")
  endif()
endfunction()

set(_config_args)
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()

# The dynamic section (readelf -d) or section headers (readelf -S) of an ELF file.
function(read_elf out_var option file)
  if(NOT READELF)
    message(FATAL_ERROR "READELF is needed to check ${file}")
  endif()
  execute_process(COMMAND "${READELF}" ${option} "${file}"
    OUTPUT_VARIABLE _output RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "${READELF} ${option} ${file} failed (${_result})")
  endif()
  set(${out_var} "${_output}" PARENT_SCOPE)
endfunction()

# Every program named `name` under `dir` (wherever the generator put it) must need SONAME.
function(check_needs_soname dir name)
  if(NOT SONAME)
    return()
  endif()
  file(GLOB_RECURSE _programs LIST_DIRECTORIES false "${dir}/${name}")
  if(NOT _programs)
    message(FATAL_ERROR "no program ${name} under ${dir}")
  endif()
  foreach(_program IN LISTS _programs)
    read_elf(_dynamic -d "${_program}")
    string(REPLACE "." "\\." _soname_regex "${SONAME}")
    if(NOT _dynamic MATCHES "\\(NEEDED\\)[^\n]*\\[${_soname_regex}\\]")
      message(FATAL_ERROR "${_program} does not record DT_NEEDED ${SONAME}:\n${_dynamic}")
    endif()
    message(STATUS "${_program}: NEEDED ${SONAME}")
  endforeach()
endfunction()

# Configures, builds and tests the consumer project in `source` (its own ctest runs its
# programs, which find the installed library through the build RPATH CMake gives them).
function(build_and_test_consumer source build_dir)
  file(REMOVE_RECURSE "${build_dir}")
  set(_configure "${CMAKE_COMMAND}" -S "${source}" -B "${build_dir}"
      "-DCMAKE_PREFIX_PATH=${INSTALL_DIR}" ${ARGN})
  if(GENERATOR)
    list(APPEND _configure -G "${GENERATOR}")
  endif()
  if(MAKE_PROGRAM)
    list(APPEND _configure "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  if(C_COMPILER)
    list(APPEND _configure "-DCMAKE_C_COMPILER=${C_COMPILER}")
  endif()
  if(CXX_COMPILER)
    list(APPEND _configure "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  endif()
  if(CONFIG)
    list(APPEND _configure "-DCMAKE_BUILD_TYPE=${CONFIG}")
  endif()
  if(EXPECTED_VERSION)
    list(APPEND _configure "-DSSE_CLIENT_EXPECTED_VERSION=${EXPECTED_VERSION}")
  endif()
  run_step(${_configure})
  run_step("${CMAKE_COMMAND}" --build "${build_dir}" ${_config_args})
  set(_ctest "${CMAKE_CTEST_COMMAND}")
  if(NOT _ctest)
    get_filename_component(_bin "${CMAKE_COMMAND}" DIRECTORY)
    set(_ctest "${_bin}/ctest")
  endif()
  set(_ctest_config)
  if(CONFIG)
    set(_ctest_config -C "${CONFIG}")
  endif()
  message(STATUS "+ (cd ${build_dir} && ctest --output-on-failure -V)")
  execute_process(COMMAND "${_ctest}" --output-on-failure -V ${_ctest_config}
    WORKING_DIRECTORY "${build_dir}"
    RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "the consumer's tests failed (${_result})")
  endif()
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE "${INSTALL_DIR}")
  run_step("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${INSTALL_DIR}" ${_config_args})
  set(_expected
      "${LIBDIR}/libsse_client.so"
      "${LIBDIR}/libsse_client.a"
      "include/sse_client.h"
      "${LIBDIR}/cmake/SseClient/SseClientConfig.cmake"
      "${LIBDIR}/cmake/SseClient/SseClientConfigVersion.cmake"
      "${LIBDIR}/pkgconfig/sse_client.pc")
  if(EXPECT_QT)
    list(APPEND _expected "${LIBDIR}/cmake/SseClient/SseClientQtTargets.cmake")
  endif()
  foreach(_file IN LISTS _expected)
    if(NOT EXISTS "${INSTALL_DIR}/${_file}")
      message(FATAL_ERROR "not installed: ${INSTALL_DIR}/${_file}")
    endif()
  endforeach()

  if(SONAME)
    # The versioned file, the SONAME link programs load, the development link -l finds;
    # nothing else named libsse_client.so*.
    set(_libdir "${INSTALL_DIR}/${LIBDIR}")
    set(_real "libsse_client.so.${EXPECTED_VERSION}")
    file(GLOB _shared RELATIVE "${_libdir}" "${_libdir}/libsse_client.so*")
    list(SORT _shared)
    set(_expected_shared "libsse_client.so" "${SONAME}" "${_real}")
    list(SORT _expected_shared)
    if(NOT _shared STREQUAL _expected_shared)
      message(FATAL_ERROR "installed shared library files: ${_shared}; expected ${_expected_shared}")
    endif()
    foreach(_link_target "${SONAME}=${_real}" "libsse_client.so=${SONAME}")
      string(REPLACE "=" ";" _pair "${_link_target}")
      list(GET _pair 0 _link)
      list(GET _pair 1 _target)
      if(NOT IS_SYMLINK "${_libdir}/${_link}")
        message(FATAL_ERROR "${_libdir}/${_link} is not a symbolic link")
      endif()
      file(READ_SYMLINK "${_libdir}/${_link}" _points_to)
      if(NOT _points_to STREQUAL _target)
        message(FATAL_ERROR "${_libdir}/${_link} -> ${_points_to}, expected -> ${_target}")
      endif()
      message(STATUS "${_link} -> ${_points_to}")
    endforeach()
    if(IS_SYMLINK "${_libdir}/${_real}")
      message(FATAL_ERROR "${_libdir}/${_real} is a link; it must be the library itself")
    endif()

    read_elf(_dynamic -d "${_libdir}/${_real}")
    if(NOT _dynamic MATCHES "\\(SONAME\\)[^\n]*\\[([^\n]*)\\]")
      message(FATAL_ERROR "${_real} has no SONAME:\n${_dynamic}")
    endif()
    if(NOT CMAKE_MATCH_1 STREQUAL SONAME)
      message(FATAL_ERROR "${_real} has SONAME ${CMAKE_MATCH_1}, expected ${SONAME}")
    endif()
    message(STATUS "${_real}: SONAME ${CMAKE_MATCH_1}")
    if(STRIPPED)
      read_elf(_sections -S "${_libdir}/${_real}")
      if(_sections MATCHES "\\.debug_info")
        message(FATAL_ERROR "${_real} was installed with .debug_info (SSE_CLIENT_INSTALL_STRIP is ON)")
      endif()
      message(STATUS "${_real}: no .debug_info")
    endif()
  endif()
  message(STATUS "installed into ${INSTALL_DIR}")

elseif(STEP STREQUAL "cmake")
  set(_qt_args)
  if(EXPECT_QT)
    set(_qt_args -DSSE_CLIENT_EXPECT_QT=ON)
  endif()
  build_and_test_consumer("${SOURCE_DIR}" "${CONSUMER_BUILD_DIR}" ${_qt_args})
  check_needs_soname("${CONSUMER_BUILD_DIR}" consumer_shared)
  if(EXPECT_QT)
    check_needs_soname("${CONSUMER_BUILD_DIR}" consumer_qt)
  endif()
  message(STATUS "cmake consumer: ok")

elseif(STEP STREQUAL "c-only")
  build_and_test_consumer("${SOURCE_DIR}/c_only" "${CONSUMER_BUILD_DIR}-c")
  check_needs_soname("${CONSUMER_BUILD_DIR}-c" consumer_c)
  message(STATUS "C-only cmake consumer: ok")

elseif(STEP STREQUAL "version")
  string(REGEX MATCH "^[0-9]+" _major "${EXPECTED_VERSION}")
  math(EXPR _next_major "${_major} + 1")
  # request=expected outcome. 0.1 is refused by 1.x as 1.x would be by 0.1: a major
  # version is an ABI break.
  foreach(_case "${_next_major}=refused" "0.1=refused" "${_major}.0=accepted" "${EXPECTED_VERSION}=accepted")
    string(REPLACE "=" ";" _pair "${_case}")
    list(GET _pair 0 _request)
    list(GET _pair 1 _expected)
    set(_dir "${CONSUMER_BUILD_DIR}-version-${_request}")
    file(REMOVE_RECURSE "${_dir}")
    set(_configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/version_check" -B "${_dir}"
        "-DCMAKE_PREFIX_PATH=${INSTALL_DIR}" "-DSSE_CLIENT_REQUESTED_VERSION=${_request}")
    if(GENERATOR)
      list(APPEND _configure -G "${GENERATOR}")
    endif()
    if(MAKE_PROGRAM)
      list(APPEND _configure "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
    endif()
    if(C_COMPILER)
      list(APPEND _configure "-DCMAKE_C_COMPILER=${C_COMPILER}")
    endif()
    execute_process(COMMAND ${_configure}
      OUTPUT_VARIABLE _output ERROR_VARIABLE _output RESULT_VARIABLE _result)
    if(_expected STREQUAL "accepted")
      if(NOT _result EQUAL 0)
        message(FATAL_ERROR "find_package(SseClient ${_request}) was refused by ${EXPECTED_VERSION}:\n${_output}")
      endif()
    else()
      # Refused for its version, not for anything else: CMake names the version it saw.
      if(_result EQUAL 0 OR NOT _output MATCHES "version: ${EXPECTED_VERSION}")
        message(FATAL_ERROR "find_package(SseClient ${_request}) was not refused for its version "
                            "(${_result}):\n${_output}")
      endif()
    endif()
    message(STATUS "find_package(SseClient ${_request}) against ${EXPECTED_VERSION}: ${_expected}")
  endforeach()
  message(STATUS "version file: ok")

elseif(STEP STREQUAL "pkg-config")
  if(NOT PKG_CONFIG)
    message(STATUS "pkg-config consumer: skipped (pkg-config not found when configuring)")
    return()
  endif()
  set(_libdir "${INSTALL_DIR}/${LIBDIR}")
  set(ENV{PKG_CONFIG_PATH} "${_libdir}/pkgconfig")
  execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs sse_client
    OUTPUT_VARIABLE _flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "pkg-config --cflags --libs sse_client failed (${_result})")
  endif()
  message(STATUS "pkg-config --cflags --libs sse_client: ${_flags}")
  execute_process(COMMAND "${PKG_CONFIG}" --modversion sse_client
    OUTPUT_VARIABLE _pc_version OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0 OR NOT _pc_version STREQUAL EXPECTED_VERSION)
    message(FATAL_ERROR "pkg-config --modversion sse_client: '${_pc_version}' (${_result}), "
                        "expected ${EXPECTED_VERSION}")
  endif()
  message(STATUS "pkg-config --modversion sse_client: ${_pc_version}")
  separate_arguments(_flags UNIX_COMMAND "${_flags}")
  if(NOT C_COMPILER)
    set(C_COMPILER cc)
  endif()
  set(_out_dir "${CONSUMER_BUILD_DIR}-pkg-config")
  file(REMOVE_RECURSE "${_out_dir}")
  file(MAKE_DIRECTORY "${_out_dir}")
  run_step("${C_COMPILER}" -std=c99 -Wall -Wextra -Werror -pedantic
    "${SOURCE_DIR}/pkg_config_check.c" -o "${_out_dir}/pkg_config_check" ${_flags})
  # A plain -L/-l link has no RPATH: the loader is told where the library is.
  set(ENV{LD_LIBRARY_PATH} "${_libdir}")
  execute_process(COMMAND "${_out_dir}/pkg_config_check"
    OUTPUT_VARIABLE _output ERROR_VARIABLE _output RESULT_VARIABLE _result)
  message("${_output}")
  if(NOT _result EQUAL 0 OR NOT _output MATCHES "pkg-config consumer: ok")
    message(FATAL_ERROR "the pkg-config consumer failed (${_result})")
  endif()
  check_needs_soname("${_out_dir}" pkg_config_check)

else()
  message(FATAL_ERROR "RunConsumerTest.cmake: unknown STEP '${STEP}' (install, cmake, c-only, version, pkg-config)")
endif()
