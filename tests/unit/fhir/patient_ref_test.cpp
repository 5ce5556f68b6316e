// fhir/patient_ref.h: which Patient a resource line belongs to.
#include "fhir/patient_ref.h"

#include <gtest/gtest.h>

#include <string>

namespace p2p::fhir {
namespace {

TEST(PatientIdOfReference, ReadsRelativeAbsoluteAndVersionedReferences) {
  EXPECT_EQ(PatientIdOfReference("Patient/p-1"), "p-1");
  EXPECT_EQ(PatientIdOfReference("https://payer.example/fhir/r4/Patient/p-1"), "p-1");
  EXPECT_EQ(PatientIdOfReference("Patient/p-1/_history/3"), "p-1");
}

TEST(PatientIdOfReference, IgnoresOtherTypesContainedAndBadIds) {
  EXPECT_EQ(PatientIdOfReference("Group/g1"), "");
  EXPECT_EQ(PatientIdOfReference("#member"), "");
  EXPECT_EQ(PatientIdOfReference("Patient/"), "");
  EXPECT_EQ(PatientIdOfReference("Patient/a b"), "");
  EXPECT_EQ(PatientIdOfReference("MyPatient/x"), "");
  EXPECT_EQ(PatientIdOfReference("relative/Patient/x"), "");  // not absolute: no base to trust
}

TEST(PatientRefReader, PatientIsItsOwn) {
  PatientRefReader r;
  EXPECT_EQ(
      r.PatientOf(
          R"({"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p9"}}]})"),
      "p1");
  // The id may come before resourceType.
  EXPECT_EQ(r.PatientOf(R"({"id":"p2","resourceType":"Patient"})"), "p2");
}

TEST(PatientRefReader, ReadsSubjectPatientBeneficiaryAndMember) {
  PatientRefReader r;
  EXPECT_EQ(
      r.PatientOf(R"({"resourceType":"Observation","id":"o","subject":{"reference":"Patient/a"}})"),
      "a");
  EXPECT_EQ(
      r.PatientOf(
          R"({"resourceType":"ExplanationOfBenefit","id":"e","insurer":{"display":"x"},"patient":{"display":"d","reference":"Patient/b"}})"),
      "b");
  EXPECT_EQ(r.PatientOf(
                R"({"resourceType":"Coverage","id":"c","beneficiary":{"reference":"Patient/c1"}})"),
            "c1");
  EXPECT_EQ(r.PatientOf(R"({"resourceType":"X","id":"x","member":{"reference":"Patient/d"}})"),
            "d");
}

TEST(PatientRefReader, FirstPatientReferenceWinsAndOthersAreSkipped) {
  PatientRefReader r;
  // subject names a Group: not a Patient, so the later patient reference is taken.
  EXPECT_EQ(
      r.PatientOf(
          R"({"resourceType":"Encounter","id":"e","subject":{"reference":"Group/g"},"patient":{"reference":"Patient/p"}})"),
      "p");
  EXPECT_EQ(
      r.PatientOf(
          R"({"resourceType":"Encounter","id":"e","subject":{"reference":"Patient/first"},"patient":{"reference":"Patient/second"}})"),
      "first");
  // A Group's member list is an array: not a reference.
  EXPECT_EQ(
      r.PatientOf(
          R"({"resourceType":"Group","id":"g","member":[{"entity":{"reference":"Patient/x"}}]})"),
      "");
}

TEST(PatientRefReader, NoPatientOrNotAnObjectGivesEmpty) {
  PatientRefReader r;
  EXPECT_EQ(r.PatientOf(R"({"resourceType":"Organization","id":"org"})"), "");
  EXPECT_EQ(r.PatientOf(R"({"resourceType":"Observation","id":"o","subject":"Patient/a"})"), "");
  EXPECT_EQ(r.PatientOf("[1,2]"), "");
  EXPECT_EQ(r.PatientOf("{not json"), "");
  EXPECT_EQ(r.PatientOf(R"({"resourceType":"Patient","id":"bad id"})"), "");
}

TEST(PatientRefReader, ReusesItsBufferAcrossLongAndShortLines) {
  PatientRefReader r;
  std::string big = R"({"resourceType":"Observation","id":"o","note":")" + std::string(20000, 'x') +
                    R"(","subject":{"reference":"Patient/big"}})";
  EXPECT_EQ(r.PatientOf(big), "big");
  EXPECT_EQ(
      r.PatientOf(R"({"resourceType":"Condition","id":"c","subject":{"reference":"Patient/s"}})"),
      "s");
}

}  // namespace
}  // namespace p2p::fhir
