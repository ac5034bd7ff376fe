# Post-build check: libtorch_fuser must use the process's shared libstdc++. A copy linked
# in statically (some custom GCC builds do this by default) has its own, uninitialized
# iostream/locale state inside a Python process and crashes on first use.
# Usage: cmake -DLIBRARY=<path> -P check_libstdcxx.cmake
find_program(READELF readelf)
if(NOT READELF)
  return()
endif()
execute_process(COMMAND "${READELF}" -d "${LIBRARY}" OUTPUT_VARIABLE dynamic)
if(NOT dynamic MATCHES "libstdc\\+\\+")
  message(FATAL_ERROR "${LIBRARY} does not link libstdc++.so dynamically: the compiler "
          "(${CMAKE_CXX_COMPILER}) linked it statically. Build with the system compiler, "
          "e.g. CXX=g++ make")
endif()
