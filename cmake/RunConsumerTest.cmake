# Checks the installed sse_client package from outside, one step per ctest test
# (registered by cmake/SseClientTests.cmake):
#
#   cmake -DSTEP=install|cmake|pkg-config -DBUILD_DIR=... -DINSTALL_DIR=... [...] -P RunConsumerTest.cmake
#
#   install     cmake --install BUILD_DIR --prefix INSTALL_DIR (a fresh tree), checks the layout
#   cmake       configures, builds and runs tests/cmake_consumer against INSTALL_DIR
#               (find_package(SseClient CONFIG REQUIRED), shared and static) in CONSUMER_BUILD_DIR
#   pkg-config  compiles tests/cmake_consumer/pkg_config_check.c with
#               $(pkg-config --cflags --libs sse_client), PKG_CONFIG_PATH=INSTALL_DIR/LIBDIR/pkgconfig,
#               and runs it with LD_LIBRARY_PATH=INSTALL_DIR/LIBDIR
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

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE "${INSTALL_DIR}")
  run_step("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${INSTALL_DIR}" ${_config_args})
  foreach(_file
      "${LIBDIR}/libsse_client.so"
      "${LIBDIR}/libsse_client.a"
      "include/sse_client.h"
      "${LIBDIR}/cmake/SseClient/SseClientConfig.cmake"
      "${LIBDIR}/cmake/SseClient/SseClientConfigVersion.cmake"
      "${LIBDIR}/pkgconfig/sse_client.pc")
    if(NOT EXISTS "${INSTALL_DIR}/${_file}")
      message(FATAL_ERROR "not installed: ${INSTALL_DIR}/${_file}")
    endif()
  endforeach()
  message(STATUS "installed into ${INSTALL_DIR}")

elseif(STEP STREQUAL "cmake")
  file(REMOVE_RECURSE "${CONSUMER_BUILD_DIR}")
  set(_configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${CONSUMER_BUILD_DIR}"
      "-DCMAKE_PREFIX_PATH=${INSTALL_DIR}")
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
  run_step("${CMAKE_COMMAND}" --build "${CONSUMER_BUILD_DIR}" ${_config_args})
  # The consumer's own ctest runs both programs, wherever the generator put them. They find
  # the installed libsse_client.so through the build RPATH CMake gives them.
  set(_ctest "${CMAKE_CTEST_COMMAND}")
  if(NOT _ctest)
    get_filename_component(_bin "${CMAKE_COMMAND}" DIRECTORY)
    set(_ctest "${_bin}/ctest")
  endif()
  set(_ctest_config)
  if(CONFIG)
    set(_ctest_config -C "${CONFIG}")
  endif()
  message(STATUS "+ (cd ${CONSUMER_BUILD_DIR} && ctest --output-on-failure -V)")
  execute_process(COMMAND "${_ctest}" --output-on-failure -V ${_ctest_config}
    WORKING_DIRECTORY "${CONSUMER_BUILD_DIR}"
    RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "the consumer's tests failed (${_result})")
  endif()
  message(STATUS "cmake consumer: ok")

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

else()
  message(FATAL_ERROR "RunConsumerTest.cmake: unknown STEP '${STEP}' (install, cmake, pkg-config)")
endif()
