# cmake -DCXX=<compiler> -DPUBLIC=<include dir> -DBATCH_ROOT=<dir> -DSTORE_ROOT=<dir>
#       -DHERE=<this dir> -P check_include.cmake
# Checks that the layer include roots enforce the layering: a file including a store internal
# header fails to compile with the batch layer's root (naming the header), compiles with the
# store layer's root, and the headers the batch layer may use compile with its root.
function(compile root source out_rc out_log)
  execute_process(
    COMMAND ${CXX} -std=c++20 -fsyntax-only -I${PUBLIC} -I${root} ${HERE}/${source}
    RESULT_VARIABLE rc OUTPUT_VARIABLE log ERROR_VARIABLE log)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_log} "${log}" PARENT_SCOPE)
endfunction()

compile(${BATCH_ROOT} uses_allowed_headers.cpp rc log)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the batch layer's allowed headers do not compile with its root:\n${log}")
endif()

compile(${STORE_ROOT} uses_store_internals.cpp rc log)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "store/store_state.hpp does not compile with the store layer's root:\n${log}")
endif()

compile(${BATCH_ROOT} uses_store_internals.cpp rc log)
if(rc EQUAL 0)
  message(FATAL_ERROR "a batch-layer file including store/store_state.hpp compiled; the layer "
                      "include roots do not enforce the layering")
endif()
if(NOT log MATCHES "store/store_state\\.hpp")
  message(FATAL_ERROR "the cross-layer include failed for another reason:\n${log}")
endif()
message(STATUS "store/store_state.hpp is out of the batch layer's reach, as it should be")
