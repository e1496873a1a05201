# ctest tests of the sse_client CMake package; included from the root CMakeLists.txt when
# SSE_CLIENT_BUILD_TESTS is ON (enable_testing() has been called there).
#
#   c_api                       tests/c/test_api.c (C99, its own loopback server) against the .so
#   c_api_valgrind              the same under valgrind (SSE_CLIENT_TEST_WITH_VALGRIND=ON)
#   shared_library_exports_only_sse_symbols  tests/check_exports.sh on the cargo-built .so
#   package_installs            cmake --install into <build>/consumer-install (fixture), and
#                               its layout: libsse_client.so.X.Y.Z + SONAME and dev links,
#                               the SONAME, no debug info when stripped, the Qt wrapper
#   installed_library_exports_only_sse_symbols  tests/check_exports.sh on the installed .so
#   cmake_consumer_finds_package  tests/cmake_consumer: find_package(SseClient), shared +
#                               static (C++), and SseClient::Qt when the wrapper is installed
#   c_only_consumer_finds_package  tests/cmake_consumer/c_only: project(... C), no C++
#   package_version_is_same_major  find_package(SseClient <v>) refuses 0.1 and MAJOR+1,
#                               accepts MAJOR.0
#   pkg_config_consumer_links   a C file built with $(pkg-config --cflags --libs sse_client)
# The consumers' programs must record DT_NEEDED libsse_client.so.<major> (ELF systems).

option(SSE_CLIENT_TEST_WITH_VALGRIND "Also run the C API test under valgrind" OFF)

# --- The C API test -----------------------------------------------------------------------
add_executable(sse_client_c_api_test "${PROJECT_SOURCE_DIR}/tests/c/test_api.c"
  "${PROJECT_SOURCE_DIR}/tests/c/common.c")
set_target_properties(sse_client_c_api_test PROPERTIES
  C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_definitions(sse_client_c_api_test PRIVATE _POSIX_C_SOURCE=200809L)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(sse_client_c_api_test PRIVATE -Wall -Wextra -Werror -pedantic)
endif()
target_link_libraries(sse_client_c_api_test PRIVATE SseClient::sse_client Threads::Threads)
add_test(NAME c_api COMMAND sse_client_c_api_test)
set_tests_properties(c_api PROPERTIES
  TIMEOUT 300)

find_program(SSE_CLIENT_VALGRIND_EXECUTABLE valgrind)
if(SSE_CLIENT_TEST_WITH_VALGRIND AND SSE_CLIENT_VALGRIND_EXECUTABLE)
  add_test(NAME c_api_valgrind
    COMMAND "${SSE_CLIENT_VALGRIND_EXECUTABLE}" --error-exitcode=1 --leak-check=full
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
            $<TARGET_FILE:sse_client_c_api_test>)
  set_tests_properties(c_api_valgrind PROPERTIES
    TIMEOUT 900
    ENVIRONMENT "SSE_TEST_TIMEOUT_SCALE=6"
    LABELS valgrind)
elseif(SSE_CLIENT_TEST_WITH_VALGRIND)
  message(WARNING "sse_client: SSE_CLIENT_TEST_WITH_VALGRIND is ON but valgrind was not found")
endif()

# --- Exports: sse_* and nothing else ------------------------------------------------------
find_program(SSE_CLIENT_BASH_EXECUTABLE bash)
set(_sse_client_check_exports)
if(SSE_CLIENT_BASH_EXECUTABLE AND CMAKE_NM AND SSE_CLIENT_SONAME)
  set(_sse_client_check_exports
      "${CMAKE_COMMAND}" -E env "NM=${CMAKE_NM}"
      "${SSE_CLIENT_BASH_EXECUTABLE}" "${PROJECT_SOURCE_DIR}/tests/check_exports.sh")
  add_test(NAME shared_library_exports_only_sse_symbols
    COMMAND ${_sse_client_check_exports} "${SSE_CLIENT_SHARED_LIBRARY}")
endif()

# --- The installed package, seen from outside ---------------------------------------------
# cmake/RunConsumerTest.cmake does one step per test; the install is a fixture, so that
# `ctest -R consumer` installs first. Only when there are install rules.
if(NOT SSE_CLIENT_INSTALL)
  return()
endif()
find_package(PkgConfig QUIET)
# The Qt wrapper is installed with the package when it is built here (cpp-example/).
if(SSE_CLIENT_BUILD_QT)
  set(_sse_client_expect_qt ON)
else()
  set(_sse_client_expect_qt OFF)
endif()
set(_sse_client_consumer_args
  -DBUILD_DIR=${PROJECT_BINARY_DIR}
  -DSOURCE_DIR=${PROJECT_SOURCE_DIR}/tests/cmake_consumer
  -DINSTALL_DIR=${PROJECT_BINARY_DIR}/consumer-install
  -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
  -DCONSUMER_BUILD_DIR=${PROJECT_BINARY_DIR}/consumer-build
  -DCONFIG=$<CONFIG>
  -DGENERATOR=${CMAKE_GENERATOR}
  -DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}
  -DC_COMPILER=${CMAKE_C_COMPILER}
  -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
  -DEXPECTED_VERSION=${PROJECT_VERSION}
  -DSONAME=${SSE_CLIENT_SONAME}
  -DREADELF=${CMAKE_READELF}
  -DSTRIPPED=${SSE_CLIENT_INSTALL_STRIP}
  -DEXPECT_QT=${_sse_client_expect_qt}
  -DPKG_CONFIG=${PKG_CONFIG_EXECUTABLE})
set(_sse_client_consumer_script "${PROJECT_SOURCE_DIR}/cmake/RunConsumerTest.cmake")

add_test(NAME package_installs
  COMMAND "${CMAKE_COMMAND}" ${_sse_client_consumer_args} -DSTEP=install
          -P "${_sse_client_consumer_script}")
set_tests_properties(package_installs PROPERTIES
  FIXTURES_SETUP sse_client_installed TIMEOUT 300)
foreach(_test_step
    "cmake_consumer_finds_package=cmake=600"
    "c_only_consumer_finds_package=c-only=300"
    "package_version_is_same_major=version=300"
    "pkg_config_consumer_links=pkg-config=300")
  string(REPLACE "=" ";" _test_step "${_test_step}")
  list(GET _test_step 0 _name)
  list(GET _test_step 1 _step)
  list(GET _test_step 2 _timeout)
  add_test(NAME ${_name}
    COMMAND "${CMAKE_COMMAND}" ${_sse_client_consumer_args} -DSTEP=${_step}
            -P "${_sse_client_consumer_script}")
  set_tests_properties(${_name} PROPERTIES
    FIXTURES_REQUIRED sse_client_installed TIMEOUT ${_timeout})
endforeach()
set_tests_properties(pkg_config_consumer_links PROPERTIES
  SKIP_REGULAR_EXPRESSION "pkg-config consumer: skipped")
if(_sse_client_check_exports)
  # After stripping: the dynamic symbol table survives --strip-unneeded.
  add_test(NAME installed_library_exports_only_sse_symbols
    COMMAND ${_sse_client_check_exports}
            "${PROJECT_BINARY_DIR}/consumer-install/${CMAKE_INSTALL_LIBDIR}/${SSE_CLIENT_SHARED_LIBRARY_FILE}")
  set_tests_properties(installed_library_exports_only_sse_symbols PROPERTIES
    FIXTURES_REQUIRED sse_client_installed)
endif()
