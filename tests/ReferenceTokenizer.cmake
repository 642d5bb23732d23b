# Test-only: where the tests (and fuzz targets) find the real Mistral v3 tokenizer, shipped in the
# mistral-common wheel of the venv. Sets MLXFT_V3_TOKENIZER ("" when absent). When it is absent the
# tests that need it skip, except under CI=true, where they fail (tests/support/test_support.h).
if(NOT DEFINED MLXFT_V3_TOKENIZER_SEARCHED)
  execute_process(
    COMMAND "${MLXFT_PYTHON}" -c
            "import mistral_common, os; print(os.path.join(os.path.dirname(mistral_common.__file__), 'data', 'mistral_instruct_tokenizer_240323.model.v3'))"
    OUTPUT_VARIABLE MLXFT_V3_TOKENIZER OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _mc_rc)
  if(NOT _mc_rc EQUAL 0 OR NOT EXISTS "${MLXFT_V3_TOKENIZER}")
    set(MLXFT_V3_TOKENIZER "")
    message(WARNING "mlxft: mistral-common not in the venv; tokenizer tests will be skipped (and fail under CI=true)")
  endif()
  set(MLXFT_V3_TOKENIZER_SEARCHED ON)
endif()
