//! Which teacher layers a student copies: explicit 1-based lists or named strategies.

use super::file::Strategy;

/// 1-based teacher layers for a strategy: `top` = 1..k (next to the embeddings), `bottom` =
/// n-k+1..n, `odd` = 1,3,5,..., `even` = 2,4,6,...
pub fn strategy_layers(strategy: Strategy, teacher: usize, student: usize) -> Result<Vec<usize>, String> {
    let layers: Vec<usize> = match strategy {
        Strategy::Top => (1..=student).collect(),
        Strategy::Bottom => (teacher - student + 1..=teacher).collect(),
        Strategy::Odd => (1..=teacher).step_by(2).take(student).collect(),
        Strategy::Even => (2..=teacher).step_by(2).take(student).collect(),
    };
    if layers.len() < student {
        return Err(format!(
            "strategy \"{strategy}\" gives only {} layers of a {teacher}-layer teacher, but the student has {student}; \
             lower student.num_layers or list teacher_layers",
            layers.len()
        ));
    }
    Ok(layers)
}

/// Checks an explicit 1-based list against the teacher's and the student's depth.
pub fn check_layers(layers: &[i64], teacher: usize, student: usize) -> Result<Vec<usize>, String> {
    if layers.len() != student {
        return Err(format!(
            "lists {} layers {:?} but student.num_layers is {student}; give exactly {student} teacher layers",
            layers.len(),
            layers
        ));
    }
    let mut seen = Vec::new();
    for &l in layers {
        if l < 1 || l as usize > teacher {
            let range = if teacher == usize::MAX {
                "from 1 (next to the embeddings)".to_string()
            } else {
                format!("1 (next to the embeddings) to {teacher} for this teacher")
            };
            return Err(format!("layer {l} does not exist: layers are numbered {range}"));
        }
        if seen.contains(&(l as usize)) {
            return Err(format!("layer {l} is listed twice; each student layer needs its own teacher layer"));
        }
        seen.push(l as usize);
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Strategy::{Bottom, Even, Odd, Top};

    #[test]
    fn strategies_for_twelve_to_six() {
        assert_eq!(strategy_layers(Top, 12, 6).unwrap(), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(strategy_layers(Bottom, 12, 6).unwrap(), vec![7, 8, 9, 10, 11, 12]);
        assert_eq!(strategy_layers(Odd, 12, 6).unwrap(), vec![1, 3, 5, 7, 9, 11]);
        assert_eq!(strategy_layers(Even, 12, 6).unwrap(), vec![2, 4, 6, 8, 10, 12]);
    }

    #[test]
    fn strategies_for_six_to_three() {
        assert_eq!(strategy_layers(Top, 6, 3).unwrap(), vec![1, 2, 3]);
        assert_eq!(strategy_layers(Bottom, 6, 3).unwrap(), vec![4, 5, 6]);
        assert_eq!(strategy_layers(Odd, 6, 3).unwrap(), vec![1, 3, 5]);
        assert_eq!(strategy_layers(Even, 6, 3).unwrap(), vec![2, 4, 6]);
    }

    #[test]
    fn odd_cannot_fill_a_deep_student() {
        assert!(strategy_layers(Odd, 12, 7).unwrap_err().contains("only 6 layers"));
        assert!(Strategy::try_from("middle".to_string()).unwrap_err().contains("\"middle\" is not known"));
    }

    #[test]
    fn the_assignments_typo_is_an_error() {
        let err = check_layers(&[1, 3, 5, 7, 8, 9, 11], 12, 6).unwrap_err();
        assert!(err.contains("lists 7 layers") && err.contains("exactly 6"), "{err}");
    }

    #[test]
    fn zero_out_of_range_and_duplicates_are_errors() {
        assert!(check_layers(&[0, 1, 2], 6, 3).unwrap_err().contains("layer 0 does not exist"));
        assert!(check_layers(&[1, 2, 7], 6, 3).unwrap_err().contains("numbered 1 (next to the embeddings) to 6"));
        assert!(check_layers(&[-1, 2, 3], 6, 3).unwrap_err().contains("layer -1"));
        assert!(check_layers(&[2, 2, 3], 6, 3).unwrap_err().contains("listed twice"));
        assert_eq!(check_layers(&[3, 1, 2], 6, 3).unwrap(), vec![3, 1, 2]);
    }
}
