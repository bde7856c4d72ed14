"""jaxdnn.Classifier: rows as examples, labels of any kind, over fit; and the X.T hint."""

import numpy as np
import pytest
from test_readme import run_example

import jaxdnn
from jaxdnn import Classifier, ShapeError


def blobs(k, m=60, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.randn(k, 2) * 4
    ids = np.arange(m) % k
    return centres[ids] + rng.randn(m, 2) * 0.3, ids


@pytest.fixture(scope="module")
def two_classes():
    X, ids = blobs(2)
    y = np.array(["dog", "cat"])[ids]
    return X, y, Classifier([4], num_iterations=300).fit(X, y)


def test_two_classes_of_strings_train_a_sigmoid(two_classes):
    X, y, model = two_classes
    assert model.output_ == "sigmoid" and list(model.classes_) == ["cat", "dog"]
    assert model.parameters_["W2"].shape == (1, 4)
    assert model.predict(X).dtype.kind == "U" and model.score(X, y) > 0.9
    P = model.predict_proba(X)
    assert P.shape == (60, 2) and np.allclose(P.sum(axis=1), 1)


def test_more_classes_train_a_softmax_and_layers_dims_is_checked():
    X, ids = blobs(3)
    y = ids + 10  # any labels
    model = Classifier(layers_dims=[2, 5, 3], num_iterations=200).fit(X, y)
    assert model.output_ == "softmax" and model.score(X, y) > 0.9
    assert set(model.predict(X)) <= {10, 11, 12}
    with pytest.raises(ShapeError, match=r"must start with the 2 features of X and end with "
                                         r"3 output units"):
        Classifier(layers_dims=[3, 5, 3]).fit(X, y)


def test_transposed_inputs_get_a_hint(two_classes):
    X, _, model = two_classes
    with pytest.raises(ShapeError, match=r"did you mean X\.T\?"):
        model.predict(X[:5].T)
    params = jaxdnn.initialize_parameters_deep([30, 4, 1], numpy_seed=0)
    with pytest.raises(ShapeError, match=r"X has shape \(4, 30\).*did you mean X\.T\?"):
        jaxdnn.predict_proba(np.ones((4, 30)), params)
    with pytest.raises(ShapeError, match=r"needs 30 rows \(features\), one column per "
                                         r"example$"):
        jaxdnn.predict_proba(np.ones((4, 31)), params)  # no hint where it would be wrong


def test_one_class_and_misshapen_labels_are_refused():
    X, _ = blobs(2, m=10)
    with pytest.raises(jaxdnn.OptionError, match="one class"):
        Classifier().fit(X, np.zeros(10))
    with pytest.raises(ShapeError, match="one label per example"):
        Classifier().fit(X, np.zeros((10, 1)))
    with pytest.raises(jaxdnn.OptionError, match="not trained yet"):
        Classifier().predict(X)


def test_the_first_hour_pages_python_example_runs(capsys):
    run_example("jaxdnn.Classifier([8]")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("['east' 'north' 'west'] ") and float(printed[0].split()[-1]) > 0.9
    assert printed[1] == "['east' 'north']"


@pytest.mark.parametrize("hidden, error", [("x", jaxdnn.InputTypeError),
                                           (5, jaxdnn.InputTypeError),
                                           (["x"], ShapeError), ([2.5], ShapeError),
                                           ([0], ShapeError)])
def test_bad_hidden_sizes_are_refused_by_name_never_truncated(hidden, error):
    X, y = blobs(2)
    with pytest.raises(error, match="hidden|layer_dims"):
        Classifier(hidden, num_iterations=5).fit(X, y)
