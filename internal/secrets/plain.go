package secrets

// PlainLeaves returns the values of a plaintext secrets document, such as
// the file a host holds, named and rendered exactly as Decrypt names and
// renders a sops file's values, so that the two compare key by key. Its
// errors quote nothing from the document.
func PlainLeaves(data []byte) ([]Leaf, error) {
	doc, err := parseShape(data)
	if err != nil {
		return nil, err
	}
	branch, err := loadBranch(doc)
	if err != nil {
		return nil, err
	}
	var leaves []Leaf
	walkLeaves(branch, func(path string, v any) {
		typ, text := leafText(v)
		leaves = append(leaves, Leaf{Path: path, Value: NewString(text), Type: typ})
	})
	return leaves, nil
}
