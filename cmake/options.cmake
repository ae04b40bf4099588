# Warnings, hardening and sanitizers for every target in the tree.
add_compile_options(-Wall -Wextra -Wshadow -Wformat=2 -Wvla -Wstrict-prototypes
                    -Wmissing-prototypes -Wno-unused-parameter
                    -fstack-protector-strong -fno-strict-aliasing)
add_compile_definitions(_GNU_SOURCE)
if(WERROR)
  add_compile_options(-Werror)
endif()
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE RelWithDebInfo)
endif()
if(NOT SANITIZE AND NOT FUZZ)
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()
if(SANITIZE)
  string(REPLACE ";" "," _san "${SANITIZE}")
  add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_san})
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(FUZZ)
  # Instrument the whole tree, not just the fuzz target files, so libFuzzer
  # sees coverage inside the libraries it is exercising.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
