//! Students: a fresh model whose embeddings (with ELECTRA's projection) and head are copies of the teacher's
//! and whose encoder layer `i` is a copy of teacher layer `teacher_layers[i]` (1-based). Every
//! tensor is a deep copy with a new parameter id, so no two runs ever share a weight or an
//! optimizer state, and the copies are checked equal to their sources before training.

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn_store::ModuleSnapshot;

use crate::error::{Error, Result};
use crate::model::{BertClassifier, BertConfig};

/// Replaces every parameter with a deep copy under a new id.
struct DeepCopy;

impl<B: Backend> ModuleMapper<B> for DeepCopy {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (_, tensor, mapper) = param.consume();
        let device = tensor.device();
        let copy = Tensor::<B, D>::from_data(tensor.to_data(), &device).set_require_grad(tensor.is_require_grad());
        Param::from_mapped_value(ParamId::new(), copy, mapper)
    }
}

/// A deep copy of any module with new parameter ids.
pub fn deep_copy<B: Backend, M: Module<B>>(module: &M) -> M {
    module.clone().map(&mut DeepCopy)
}

/// Builds the student for `teacher_layers` (1-based) and its config.
pub fn build_student<B: Backend>(
    teacher: &BertClassifier<B>,
    teacher_config: &BertConfig,
    teacher_layers: &[usize],
) -> (BertClassifier<B>, BertConfig) {
    let layers = teacher_layers.iter().map(|&l| teacher.layer(l - 1).clone()).collect();
    let student = deep_copy(&teacher.clone().with_layers(layers));
    (student, teacher_config.with_layers(teacher_layers.len()))
}

/// Checks that every tensor of the student equals its source in the teacher: embeddings,
/// pooler and classifier, and student layer `i` against teacher layer `teacher_layers[i]`.
/// Returns how many tensors were compared.
pub fn verify_student<B: Backend>(
    teacher: &BertClassifier<B>,
    student: &BertClassifier<B>,
    teacher_layers: &[usize],
) -> Result<usize> {
    if student.num_layers() != teacher_layers.len() {
        return Err(Error::Internal(format!(
            "the student has {} layers, the map {}",
            student.num_layers(),
            teacher_layers.len()
        )));
    }
    let mut n = compare(&teacher.bert.embeddings, &student.bert.embeddings, "embeddings")?;
    n += compare(&teacher.bert.embeddings_project, &student.bert.embeddings_project, "embeddings_project")?;
    n += compare(&teacher.bert.pooler, &student.bert.pooler, "pooler")?;
    n += compare(&teacher.classifier, &student.classifier, "classifier")?;
    for (i, &l) in teacher_layers.iter().enumerate() {
        n += compare(teacher.layer(l - 1), student.layer(i), &format!("student layer {} <- teacher layer {l}", i + 1))?;
    }
    Ok(n)
}

fn compare<B: Backend, M: ModuleSnapshot<B>>(source: &M, copy: &M, what: &str) -> Result<usize> {
    let a = source.collect(None, None, false);
    let b = copy.collect(None, None, false);
    if a.len() != b.len() {
        return Err(Error::Internal(format!("{what}: {} tensors in the source, {} in the copy", a.len(), b.len())));
    }
    for (x, y) in a.iter().zip(&b) {
        let (dx, dy) = (x.to_data(), y.to_data());
        let equal = match (dx, dy) {
            (Ok(dx), Ok(dy)) => dx == dy,
            _ => false,
        };
        if !equal || x.full_path() != y.full_path() {
            return Err(Error::Internal(format!(
                "{what}: tensor {} is not a copy of the teacher's; the student would not start from the chosen layers",
                y.full_path()
            )));
        }
    }
    Ok(a.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use burn::backend::Autodiff;

    type B = Autodiff<CpuBackend>;

    fn teacher() -> (BertClassifier<B>, BertConfig) {
        let c = BertConfig::synthetic(50, 16, 6, 2, 32, 3);
        (BertClassifier::new(&c, 3, &Default::default()), c)
    }

    fn first_value<M: ModuleSnapshot<B>>(m: &M, suffix: &str) -> Vec<f32> {
        let s = m.collect(None, None, false).into_iter().find(|s| s.full_path().ends_with(suffix)).unwrap();
        s.to_data().unwrap().to_vec().unwrap()
    }

    #[test]
    fn layers_are_copied_from_the_chosen_teacher_layers() {
        let (t, c) = teacher();
        let (s, sc) = build_student(&t, &c, &[2, 4, 6]);
        assert_eq!((s.num_layers(), sc.num_hidden_layers), (3, 3));
        for (i, l) in [2usize, 4, 6].iter().enumerate() {
            let want = first_value(t.layer(l - 1), "attention.self_attn.query.weight");
            assert_eq!(first_value(s.layer(i), "attention.self_attn.query.weight"), want);
            // And not the neighbouring layer's.
            assert_ne!(
                first_value(s.layer(i), "attention.self_attn.query.weight"),
                first_value(t.layer(l - 2), "attention.self_attn.query.weight")
            );
        }
        fn tensors<M: ModuleSnapshot<B>>(m: &M) -> usize {
            m.collect(None, None, false).len()
        }
        let per_layer = tensors(t.layer(0));
        let others = tensors(&t.bert.embeddings) + tensors(&t.bert.pooler) + tensors(&t.classifier);
        assert_eq!(per_layer, 16);
        assert_eq!(verify_student(&t, &s, &[2, 4, 6]).unwrap(), others + 3 * per_layer);
    }

    #[test]
    fn verification_catches_a_wrong_map() {
        let (t, c) = teacher();
        let (s, _) = build_student(&t, &c, &[1, 3, 5]);
        let err = verify_student(&t, &s, &[1, 3, 6]).unwrap_err().to_string();
        assert!(err.contains("student layer 3 <- teacher layer 6"), "{err}");
    }

    #[test]
    fn students_share_no_parameter_with_the_teacher_or_each_other() {
        let (t, c) = teacher();
        let (a, _) = build_student(&t, &c, &[1, 2, 3]);
        let (b, _) = build_student(&t, &c, &[1, 2, 3]);
        let ids = |m: &BertClassifier<B>| -> Vec<String> {
            m.collect(None, None, false).iter().map(|s| format!("{:?}", s.tensor_id)).collect()
        };
        let (ta, tb, tt) = (ids(&a), ids(&b), ids(&t));
        assert!(ta.iter().all(|id| !tb.contains(id) && !tt.contains(id)));
    }
}
