"""Reproduce the course's published numbers for the cat classifiers and the planar model.

    python scripts/reproduce_course.py [--data-dir DIR] [--float32] [--plain]

Prints, in float64 (or float32 with --float32), the course's cost lines and the train/test
accuracies of ``L_layer_model`` ([12288, 20, 7, 5, 1]) and ``two_layer_model`` ((12288, 7, 1)),
both 2500 iterations at learning rate 0.0075 with the course's initialisation, and of
``jaxdnn.logistic.model`` (logistic regression from zeros, 2000 iterations at 0.005); then the
planar ``nn_model`` (4 tanh units, learning rate 1.2, 10000 iterations) and, as the course's
baseline on the same data, logistic regression (``jaxdnn.logistic``, 2000 iterations at 0.5).
Between them, the course's activation study ([12288, 5, 5, 1], ReLU, tanh and leaky ReLU with
slope 0.1, learning rate 0.03, 3000 iterations), printed as the seed prints it.
The two deep cat models train through the Gram path (chosen automatically); ``--plain`` uses the
plain loop instead.
"""

import argparse
import time

import jax
import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="datasets")
    parser.add_argument("--float32", action="store_true", help="train in float32 instead")
    parser.add_argument("--plain", action="store_true", help="the plain loop, not the Gram path")
    args = parser.parse_args()
    if not args.float32:
        jax.config.update("jax_enable_x64", True)
    import jaxdnn

    dtype = "float32" if args.float32 else "float64"
    train_x, train_y, test_x, test_y, _ = jaxdnn.load_cat_data(args.data_dir)
    for name, model, dims in (("L_layer_model", jaxdnn.L_layer_model, [12288, 20, 7, 5, 1]),
                              ("two_layer_model", jaxdnn.two_layer_model, (12288, 7, 1))):
        print(f"== {name} {list(dims)}, {dtype}")
        start = time.perf_counter()
        params, _ = model(train_x, train_y, dims, num_iterations=2500, print_cost=True,
                          dtype=dtype, gram=not args.plain)
        jax.effects_barrier()
        print(f"({time.perf_counter() - start:.1f} s including compilation)")
        print("train ", end="")
        jaxdnn.predict(train_x, train_y, params)
        print("test  ", end="")
        jaxdnn.predict(test_x, test_y, params)

    study = jaxdnn.COURSE_MODELS["activation_study"]
    for name, activation in (("relu", "relu"), ("tanh", "tanh"),
                             ("leaky_relu, slope 0.1", jaxdnn.leaky_relu_with(0.1))):
        print(f"== the course's activation study, {name}, [12288, 5, 5, 1], {dtype}")
        params = jaxdnn.initialize_parameters_deep([12288, *study.hidden, 1],
                                                   numpy_seed=study.seed, scheme=study.scheme,
                                                   dtype=dtype)
        params, costs = jaxdnn.fit(train_x, train_y, params, hidden_activation=activation,
                                   learning_rate=study.learning_rate,
                                   num_iterations=study.num_iterations,
                                   gram="auto" if not args.plain else False)
        for i in range(100, study.num_iterations + 1, 100):  # the cost before update i
            print(f"The cost after {i} iterations is: {costs[i - 1]:.4f}")
        labels = jaxdnn.predict_labels(test_x, params, activation)
        print(f"The accuracy rate is: {jaxdnn.accuracy(labels, test_y) * 100:.2f}%.")

    print(f"== logistic.model (logistic regression), cat data, {dtype}")
    jaxdnn.logistic.model(train_x, train_y, test_x, test_y, num_iterations=2000,
                          learning_rate=0.005, print_cost=True)

    print(f"== nn_model, planar data, 4 tanh units, {dtype}")
    X, Y = jaxdnn.load_planar_dataset()
    params, costs = jaxdnn.nn_model(X, Y.astype(dtype), 4, num_iterations=10000, dtype=dtype)
    print(f"Cost after iteration 9900: {costs[9900]:f}")
    jaxdnn.predict(X, Y, params, "tanh")

    print(f"== logistic regression baseline, planar data, {dtype}")
    w, b = jaxdnn.logistic.initialize_with_zeros(X.shape[0])
    params, _, _ = jaxdnn.logistic.optimize(w, b, X, Y, num_iterations=2000, learning_rate=0.5)
    correct = np.mean(np.asarray(jaxdnn.logistic.predict(params["w"], params["b"], X)) == Y)
    print(f"Accuracy of logistic regression: {int(correct * 100)} % "
          "(percentage of correctly labelled datapoints)")


if __name__ == "__main__":
    main()
