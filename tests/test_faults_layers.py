"""The layer check bites: each of the gallery's wrong backward passes fails the check, which names
its bug class; each correct layer passes, in float64 and float32."""

import pytest

from jaxdnn.testing import check_vjp
from jaxdnn.verify import diagnose, gallery
from jaxdnn.verify.faults import FAULTS

MISNAMED = {}
"""Faults caught under another class than their label: none. (``tanh' as 1 - tanh`` and ``bce
with sigmoid(-z)`` agree with the reference where the input is 0, as a dropped product-rule
term does; the diagnosis asks for ``d f(x) / x`` elsewhere too, which they are not.)"""

DTYPES = ("float64", "float32")


def test_the_gallery_is_large_and_labelled():
    assert len(FAULTS) >= 30
    assert {f.bug for f in FAULTS} <= set(diagnose.CLASSES)
    assert len({f.layer for f in FAULTS}) >= 10
    assert len({f.name for f in FAULTS}) == len(FAULTS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_each_fault_is_caught_and_named(fault, dtype):
    layer = gallery.LAYERS[fault.layer]
    with pytest.raises(AssertionError) as caught:
        check_vjp(layer.forward, fault.backward, gallery.examples(fault.layer, dtype),
                  shrink=False)
    named = MISNAMED.get(fault.name, fault.bug)
    assert f"\n{named}: d" in str(caught.value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(gallery.LAYERS))
def test_each_correct_layer_passes(name, dtype):
    layer = gallery.LAYERS[name]
    report = check_vjp(layer.forward, layer.backward, gallery.examples(name, dtype), seed=1)
    assert report.finding is None
