"""The scoring seam: how a scoring reranker's texts reach its scorer, in one package.

- :mod:`.reranker`: :class:`ScoringReranker`, which selects each row's text, sends it down the
  path and orders the rows by the scores that come back;
- :mod:`.path`: :class:`ScoringPath`, the steps a reranker's options turn on, then the scorer;
- :mod:`.steps`: one module per optional step, their options (:class:`ScoringOptions`) and
  their order (:data:`STEPS`, with the reason for it; stated there and nowhere else);
- :mod:`.scorer`: :class:`~rerankit.Scorer`, what a plugin implements;
- :mod:`.length`: how a scorer measures length (for passages);
- :mod:`.usage`: the usage record every reranker keeps.

This module imports nothing, so importing one part does not load the others.
"""
