# ctest tests of the sse_client CMake package; included from the root CMakeLists.txt when
# SSE_CLIENT_BUILD_TESTS is ON (enable_testing() has been called there).
#
#   c_api                       tests/c/test_api.c (C99, its own loopback server) against the .so
#   c_api_valgrind              the same under valgrind (SSE_CLIENT_TEST_WITH_VALGRIND=ON)
#   package_installs            cmake --install into <build>/consumer-install (fixture)
#   cmake_consumer_finds_package  tests/cmake_consumer: find_package(SseClient), shared + static
#   pkg_config_consumer_links   a C file built with $(pkg-config --cflags --libs sse_client)

option(SSE_CLIENT_TEST_WITH_VALGRIND "Also run the C API test under valgrind" OFF)

# --- The C API test -----------------------------------------------------------------------
add_executable(sse_client_c_api_test "${PROJECT_SOURCE_DIR}/tests/c/test_api.c")
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

# --- The installed package, seen from outside ---------------------------------------------
# cmake/RunConsumerTest.cmake does one step per test; the install is a fixture, so that
# `ctest -R consumer` installs first.
find_package(PkgConfig QUIET)
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
  -DPKG_CONFIG=${PKG_CONFIG_EXECUTABLE})
set(_sse_client_consumer_script "${PROJECT_SOURCE_DIR}/cmake/RunConsumerTest.cmake")

add_test(NAME package_installs
  COMMAND "${CMAKE_COMMAND}" ${_sse_client_consumer_args} -DSTEP=install
          -P "${_sse_client_consumer_script}")
add_test(NAME cmake_consumer_finds_package
  COMMAND "${CMAKE_COMMAND}" ${_sse_client_consumer_args} -DSTEP=cmake
          -P "${_sse_client_consumer_script}")
add_test(NAME pkg_config_consumer_links
  COMMAND "${CMAKE_COMMAND}" ${_sse_client_consumer_args} -DSTEP=pkg-config
          -P "${_sse_client_consumer_script}")
set_tests_properties(package_installs PROPERTIES
  FIXTURES_SETUP sse_client_installed TIMEOUT 300)
set_tests_properties(cmake_consumer_finds_package PROPERTIES
  FIXTURES_REQUIRED sse_client_installed TIMEOUT 600)
set_tests_properties(pkg_config_consumer_links PROPERTIES
  FIXTURES_REQUIRED sse_client_installed TIMEOUT 300
  SKIP_REGULAR_EXPRESSION "pkg-config consumer: skipped")
