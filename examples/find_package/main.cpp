// Loads a save_to_disk dataset (or DatasetDict) given on the command line and prints its shape.
#include <iostream>
#include <variant>

#include <mouse/mouse.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer DATASET_DIR\n";
    return 2;
  }
  try {
    auto loaded = mouse::load_from_disk(argv[1]);
    if (auto* ds = std::get_if<mouse::Dataset>(&loaded)) {
      std::cout << ds->num_rows() << " rows, " << ds->num_columns() << " columns\n";
    } else {
      for (const auto& name : std::get<mouse::DatasetDict>(loaded).split_names()) {
        std::cout << "split " << name << "\n";
      }
    }
    mouse::Tensor t = mouse::Tensor::zeros({2, 3}, mouse::DType::kFloat32);
    std::cout << "tensor of " << t.numel() << " elements\n";
  } catch (const mouse::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
