"""Verification of hand-written backward passes: the witnesses, the hypothesis properties
(public as :mod:`jaxdnn.testing`) and ``jaxdnn check``'s audit. Imports :mod:`jaxdnn.core`."""
