# The README as a test: every ```cpp block in README.md becomes a C++ file that
# CMake builds (and CTest runs), so the README cannot drift from the library.
#
# Hidden HTML comments just before a block (a reader of the rendered README does
# not see them; only blank lines may stand between them and the block) say what
# the block needs:
#
#   <!-- setup: C++ -->      code placed before the block (declarations the
#                            block uses: data, a model, ...); may span lines
#   <!-- after: C++ -->      code placed after the block, e.g. a check whose
#                            failure fails the test: `return accuracy > 0.9 ? 0 : 1;`
#   <!-- top-level -->       the block is definitions at namespace scope (an op,
#                            a function): it is compiled as is, then a main
#   <!-- main: C++ -->       the body of that main (default: empty)
#   <!-- compile-only -->    build it, do not run it
#   <!-- snippet: path -->   checked by tests/readme_snippets.cmake; ignored here
#
# A block without these is wrapped as `int main() { setup block after }` (the
# generated main prints README.md:<line> when the block returns non-zero or
# throws), unless it contains `int main(`: then it is a whole program and
# compiled as is.
# `#include` lines of the block and its setup are moved to the top of the file.
# `#line` directives make compiler errors name README.md and its line.
#
# wengert_readme_blocks(<README.md> <output dir> <prefix>) writes
# <output dir>/readme_block_<N>.cpp for the N-th block and sets <prefix>_blocks
# (the numbers), <prefix>_<N>_line (its first line in README.md) and
# <prefix>_<N>_run (TRUE unless compile-only). Call it from the directory that
# builds the executables readme_block_<N> (a changed block deletes its old one).

function(_readme_line_of text offset out)  # the line (from 1) at a character offset
  string(SUBSTRING "${text}" 0 ${offset} prefix)
  string(REGEX MATCHALL "\n" newlines "${prefix}")
  list(LENGTH newlines count)
  math(EXPR count "${count} + 1")
  set(${out} ${count} PARENT_SCOPE)
endfunction()

function(wengert_readme_blocks readme out_dir prefix)
  file(READ "${readme}" text)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${readme}")
  file(MAKE_DIRECTORY "${out_dir}")
  set(open_marker "```cpp\n")
  string(LENGTH "${open_marker}" open_length)
  set(blocks "")
  set(number 0)
  set(searched 0)  # characters of text already searched
  while(TRUE)
    string(SUBSTRING "${text}" ${searched} -1 rest)
    string(FIND "${rest}" "${open_marker}" at)
    if(at EQUAL -1)
      break()
    endif()
    math(EXPR number "${number} + 1")
    math(EXPR open "${searched} + ${at}")
    math(EXPR code_start "${open} + ${open_length}")
    string(SUBSTRING "${text}" ${code_start} -1 rest)
    string(FIND "${rest}" "```" code_length)
    if(code_length EQUAL -1)
      _readme_line_of("${text}" ${open} line)
      message(FATAL_ERROR "${readme}:${line}: a ```cpp block is never closed")
    endif()
    string(SUBSTRING "${rest}" 0 ${code_length} code)
    math(EXPR searched "${code_start} + ${code_length} + 3")
    _readme_line_of("${text}" ${code_start} code_line)

    # The hidden comments, read backwards from the block.
    set(setup "")
    set(after "")
    set(main_body "")
    set(top_level FALSE)
    set(run TRUE)
    string(SUBSTRING "${text}" 0 ${open} before)
    while(TRUE)
      string(REGEX REPLACE "[ \t\n]+$" "" before "${before}")
      if(NOT before MATCHES "-->$")
        break()
      endif()
      string(FIND "${before}" "<!--" comment_start REVERSE)
      _readme_line_of("${text}" ${comment_start} comment_line)
      string(LENGTH "${before}" before_length)
      math(EXPR body_start "${comment_start} + 4")
      math(EXPR body_length "${before_length} - 3 - ${body_start}")
      string(SUBSTRING "${before}" ${body_start} ${body_length} body)
      string(SUBSTRING "${before}" 0 ${comment_start} before)
      string(STRIP "${body}" word)
      # Code keeps its position: `#line` names the comment's line, and the code
      # starts on it, right after the keyword.
      if(body MATCHES "^[ \t]*(setup|after|main):")
        set(keyword "${CMAKE_MATCH_1}")
        # One replacement of the whole body: REGEX REPLACE repeats a pattern, and CMake's
        # "^" matches again where the last match ended (it ate "std:" of "after: std::...").
        string(REGEX REPLACE "^[ \t]*[a-z]+:(.*)$" "\\1" piece "${body}")
        set(piece "#line ${comment_line} \"${readme}\"\n${piece}\n")
        if(keyword STREQUAL "setup")
          set(setup "${piece}${setup}")
        elseif(keyword STREQUAL "after")
          set(after "${piece}${after}")
        else()
          set(main_body "${piece}${main_body}")
        endif()
      elseif(word STREQUAL "top-level")
        set(top_level TRUE)
      elseif(word STREQUAL "compile-only")
        set(run FALSE)
      elseif(word MATCHES "^snippet: ")
      else()
        message(FATAL_ERROR "${readme}:${comment_line}: the comment before the ```cpp block of line ${code_line} "
          "is not one of setup:, after:, top-level, main:, compile-only, snippet: (tests/readme_blocks.cmake): ${word}")
      endif()
    endwhile()

    # Includes go first; their lines stay, blank, so that line numbers still match.
    set(source "${setup}#line ${code_line} \"${readme}\"\n${code}${after}")
    string(REGEX MATCHALL "(^|\n)[ \t]*#[ \t]*include[^\n]*" includes "${source}")
    string(REGEX REPLACE "(^|\n)[ \t]*#[ \t]*include[^\n]*" "\\1" source "${source}")
    string(REPLACE ";" "" includes "${includes}")  # the MATCHALL list; includes hold no ';'
    string(CONCAT header "// Generated from ${readme}, block ${number} (line ${code_line}),\n"
               "// by tests/readme_blocks.cmake: edit README.md, not this file.")
    # A failure names the block and its line: README.md:243: block 4 threw: ...
    set(includes "\n#include <exception>\n#include <iostream>${includes}")
    string(CONCAT caller "int main() {\n"
      "  try {\n"
      "    const int status = readme_block();\n"
      "    if (status != 0) std::cerr << \"${readme}:${code_line}: block ${number} returned \" << status << '\\n';\n"
      "    return status;\n"
      "  } catch (const std::exception& error) {\n"
      "    std::cerr << \"${readme}:${code_line}: block ${number} threw: \" << error.what() << '\\n';\n"
      "    return 1;\n"
      "  }\n"
      "}\n")
    if(top_level)
      set(program "${header}${includes}\n${source}static int readme_block() {\n${main_body}return 0;\n}\n${caller}")
    elseif(code MATCHES "int main\\(")
      set(program "${header}${includes}\n${source}")
    else()
      set(program "${header}${includes}\nstatic int readme_block() {\n${source}return 0;\n}\n${caller}")
    endif()

    set(file "${out_dir}/readme_block_${number}.cpp")
    set(old "")
    if(EXISTS "${file}")
      file(READ "${file}" old)
    endif()
    if(NOT "${old}" STREQUAL "${program}")  # unchanged files keep their time stamps: no rebuild
      file(WRITE "${file}" "${program}")
      # If the changed block no longer compiles, CTest must not run the old program.
      file(REMOVE "${CMAKE_CURRENT_BINARY_DIR}/readme_block_${number}")
    endif()
    list(APPEND blocks ${number})
    set(${prefix}_${number}_line ${code_line} PARENT_SCOPE)
    set(${prefix}_${number}_run ${run} PARENT_SCOPE)
  endwhile()
  if(number EQUAL 0)
    message(FATAL_ERROR "${readme}: no ```cpp blocks found")
  endif()
  # Blocks removed from the README leave no stale files behind.
  file(GLOB generated "${out_dir}/readme_block_*.cpp")
  foreach(file IN LISTS generated)
    string(REGEX MATCH "readme_block_([0-9]+)\\.cpp$" _ "${file}")
    if(CMAKE_MATCH_1 GREATER number)
      file(REMOVE "${file}")
    endif()
  endforeach()
  set(${prefix}_blocks ${blocks} PARENT_SCOPE)
endfunction()
